package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EFS (REST-JSON, paths under /2015-02-01/): DescribeFileSystems and
// DescribeMountTargets, by FileSystemId, which is what studio.Preflight reads to
// check the file systems of CustomFileSystemConfigs. The emulator's file systems are
// every domain's home EFS, with a mount target in each of the domain's subnets, and
// the ones declared with World.FileSystems. An unknown ID is FileSystemNotFound (404)
// in every NetworkMode: reads are never lenient.

const efsPathPrefix = "/2015-02-01/"

var efsOps = map[string]handler{
	"DescribeFileSystems":  (*Emulator).describeFileSystems,
	"DescribeMountTargets": (*Emulator).describeMountTargets,
}

func isEFSRequest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, efsPathPrefix)
}

// serveEFS routes one EFS request by method and path; the query string becomes the
// handler's JSON body so it runs under e.call like every other operation.
func (e *Emulator) serveEFS(w http.ResponseWriter, r *http.Request) {
	var op string
	switch strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, efsPathPrefix), "/") {
	case "file-systems":
		op = "DescribeFileSystems"
	case "mount-targets":
		op = "DescribeMountTargets"
	}
	if r.Method != http.MethodGet || op == "" {
		writeEFSError(w, &apiError{status: http.StatusNotFound, code: "UnknownOperationException", msg: "no EFS operation at " + r.Method + " " + r.URL.Path})
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeEFSError(w, &apiError{status: http.StatusForbidden, code: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"})
		return
	}
	q := r.URL.Query()
	body, _ := json.Marshal(efsReq{FileSystemID: q.Get("FileSystemId"), MountTargetID: q.Get("MountTargetId")})
	out, aerr := e.call("EFS", op, efsOps[op], body)
	if aerr != nil {
		e.log.Debug("call failed", "op", op, "code", aerr.code, "message", aerr.msg)
		writeEFSError(w, aerr)
		return
	}
	e.log.Debug("call", "op", op)
	writeJSON(w, http.StatusOK, out)
}

// writeEFSError answers as EFS does: the code in x-amzn-ErrorType, and a body with
// ErrorCode and Message (what the SDK's error shapes read).
func writeEFSError(w http.ResponseWriter, a *apiError) {
	status := a.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("X-Amzn-ErrorType", a.code)
	writeJSON(w, status, map[string]any{"ErrorCode": a.code, "Message": a.msg})
}

type efsReq struct {
	FileSystemID  string
	MountTargetID string
}

type efsFileSystem struct {
	id      string
	subnets []string // one mount target in each
	created time.Time
}

// fileSystems returns every file system of the account by ID: the declared ones and
// the domains' home EFS. Callers hold e.mu.
func (e *Emulator) fileSystems() map[string]*efsFileSystem {
	out := map[string]*efsFileSystem{}
	for id, fs := range e.account().fileSystems {
		out[id] = fs
	}
	for _, d := range e.domains {
		if d.fsID == "" || out[d.fsID] != nil {
			continue
		}
		out[d.fsID] = &efsFileSystem{id: d.fsID, subnets: d.subnetIDs, created: d.created}
	}
	return out
}

func errFileSystemNotFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "FileSystemNotFound", msg: "File system '" + id + "' does not exist."}
}

func (e *Emulator) describeFileSystems(_ time.Time, body []byte) (any, *apiError) {
	var req efsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	all := e.fileSystems()
	ids := sortedKeys(all)
	if req.FileSystemID != "" {
		if all[req.FileSystemID] == nil {
			return nil, errFileSystemNotFound(req.FileSystemID)
		}
		ids = []string{req.FileSystemID}
	}
	out := []map[string]any{}
	for _, id := range ids {
		fs := all[id]
		out = append(out, map[string]any{
			"FileSystemId":         fs.id,
			"FileSystemArn":        "arn:aws:elasticfilesystem:" + e.opts.Region + ":" + e.opts.AccountID + ":file-system/" + fs.id,
			"OwnerId":              e.opts.AccountID,
			"CreationToken":        fs.id,
			"CreationTime":         fs.created.Unix(),
			"LifeCycleState":       "available",
			"NumberOfMountTargets": len(fs.subnets),
			"SizeInBytes":          map[string]any{"Value": 6144},
			"PerformanceMode":      "generalPurpose",
			"ThroughputMode":       "bursting",
			"Encrypted":            true,
			"Tags":                 []any{},
		})
	}
	return map[string]any{"FileSystems": out}, nil
}

func (e *Emulator) describeMountTargets(_ time.Time, body []byte) (any, *apiError) {
	var req efsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.FileSystemID == "" {
		// The emulator has no mount target or access point IDs to look up by.
		return nil, &apiError{code: "BadRequest", msg: "FileSystemId is required"}
	}
	fs := e.fileSystems()[req.FileSystemID]
	if fs == nil {
		return nil, errFileSystemNotFound(req.FileSystemID)
	}
	acct := e.account()
	out := []map[string]any{}
	for i, sub := range slices.Sorted(slices.Values(fs.subnets)) {
		mt := map[string]any{
			"MountTargetId":      "fsmt-" + strings.TrimPrefix(fs.id, "fs-") + string(rune('a'+i%26)),
			"FileSystemId":       fs.id,
			"SubnetId":           sub,
			"OwnerId":            e.opts.AccountID,
			"LifeCycleState":     "available",
			"IpAddress":          "10.0." + strconv.Itoa(i%256) + ".10",
			"NetworkInterfaceId": "eni-" + strings.TrimPrefix(fs.id, "fs-"),
		}
		if s := acct.subnets[sub]; s != nil {
			mt["VpcId"] = s.vpcID
			mt["AvailabilityZoneName"] = s.az
		}
		out = append(out, mt)
	}
	return map[string]any{"MountTargets": out}, nil
}
