package emulator

import (
	"encoding/json"
	"strings"
	"time"
)

// KMS (JSON 1.1, X-Amz-Target "TrentService.<Op>"): the key a domain's EFS and
// volumes are encrypted with. CreateKey, DescribeKey, EnableKey, DisableKey,
// ScheduleKeyDeletion, GetKeyPolicy, PutKeyPolicy, CreateAlias. A key is named by its
// ID, its ARN, an alias ("alias/name") or the alias ARN, as in KMS.

func init() {
	services["TrentService"] = kmsOps
}

var kmsOps = map[string]handler{
	"CreateKey":           (*Emulator).kmsCreateKey,
	"DescribeKey":         (*Emulator).kmsDescribeKey,
	"EnableKey":           (*Emulator).kmsEnableKey,
	"DisableKey":          (*Emulator).kmsDisableKey,
	"ScheduleKeyDeletion": (*Emulator).kmsScheduleKeyDeletion,
	"GetKeyPolicy":        (*Emulator).kmsGetKeyPolicy,
	"PutKeyPolicy":        (*Emulator).kmsPutKeyPolicy,
	"CreateAlias":         (*Emulator).kmsCreateAlias,
}

// Key states, as KMS spells them.
const (
	keyEnabled         = "Enabled"
	keyDisabled        = "Disabled"
	keyPendingDeletion = "PendingDeletion"
)

type kmsKey struct {
	id, arn, description string
	usage, spec          string
	state                string
	policy               string
	created, deletion    time.Time
}

var kmsKeyIDRE = lazyRE(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)

// defaultKeyPolicy is the policy KMS gives a key created without one: the account
// (through IAM policies) may do everything with it.
func (e *Emulator) defaultKeyPolicy() string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + e.opts.AccountID + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// newKey makes a key; id "" draws one. Callers hold e.mu.
func (e *Emulator) newKey(now time.Time, id, description string, policy *string) *kmsKey {
	if id == "" {
		h := e.randHex(32)
		id = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	k := &kmsKey{
		id: id, arn: "arn:aws:kms:" + e.opts.Region + ":" + e.opts.AccountID + ":key/" + id,
		description: description, usage: "ENCRYPT_DECRYPT", spec: "SYMMETRIC_DEFAULT",
		state: keyEnabled, policy: e.defaultKeyPolicy(), created: now,
	}
	if policy != nil {
		k.policy = *policy
	}
	return k
}

// findKey resolves a key ID, key ARN, alias name or alias ARN.
func (e *Emulator) findKey(ref string) (*kmsKey, *apiError) {
	acct := e.account()
	prefix := "arn:aws:kms:" + e.opts.Region + ":" + e.opts.AccountID + ":"
	name := strings.TrimPrefix(ref, prefix)
	switch {
	case strings.HasPrefix(name, "alias/"):
		id, ok := acct.aliases[name]
		if !ok {
			return nil, &apiError{code: "NotFoundException", msg: "Alias " + prefix + name + " is not found."}
		}
		return acct.keys[id], nil
	case strings.HasPrefix(name, "key/"):
		name = strings.TrimPrefix(name, "key/")
	case strings.HasPrefix(ref, "arn:"):
		// Another account or region: this emulator holds one account.
		return nil, &apiError{code: "NotFoundException", msg: "Key '" + ref + "' does not exist"}
	}
	if !kmsKeyIDRE().MatchString(name) {
		return nil, &apiError{code: "NotFoundException", msg: "Invalid keyId '" + ref + "'"}
	}
	k, ok := acct.keys[name]
	if !ok {
		return nil, &apiError{code: "NotFoundException", msg: "Key '" + prefix + "key/" + name + "' does not exist"}
	}
	return k, nil
}

type kmsKeyMetadata struct {
	AWSAccountId          string
	KeyId                 string
	Arn                   string
	CreationDate          *epochTime
	DeletionDate          *epochTime `json:",omitempty"`
	Enabled               bool
	Description           string
	KeyUsage              string
	KeyState              string
	Origin                string
	KeyManager            string
	CustomerMasterKeySpec string
	KeySpec               string
	EncryptionAlgorithms  []string
	MultiRegion           bool
}

func (e *Emulator) keyMetadata(k *kmsKey) map[string]any {
	md := kmsKeyMetadata{
		AWSAccountId: e.opts.AccountID, KeyId: k.id, Arn: k.arn, CreationDate: ts(k.created),
		DeletionDate: ts(k.deletion), Enabled: k.state == keyEnabled, Description: k.description,
		KeyUsage: k.usage, KeyState: k.state, Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		CustomerMasterKeySpec: k.spec, KeySpec: k.spec, MultiRegion: strings.HasPrefix(k.id, "mrk-"),
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"},
	}
	if k.spec != "SYMMETRIC_DEFAULT" {
		md.EncryptionAlgorithms = []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
	}
	return map[string]any{"KeyMetadata": md}
}

type kmsKeyReq struct {
	KeyId                          *string
	Description                    *string
	KeyUsage                       string
	KeySpec                        string
	CustomerMasterKeySpec          string
	Policy                         *string
	PolicyName                     *string
	PendingWindowInDays            *int32
	AliasName                      *string
	TargetKeyId                    *string
	BypassPolicyLockoutSafetyCheck bool
	Tags                           []struct{ TagKey, TagValue string }
}

func (e *Emulator) kmsCreateKey(now time.Time, body []byte) (any, *apiError) {
	var req kmsKeyReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.enum("KeyUsage", req.KeyUsage, "SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT")
	v.enum("KeySpec", req.KeySpec, "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2")
	v.length("Description", req.Description, 0, 8192)
	if err := v.err(); err != nil {
		return nil, err
	}
	if req.Policy != nil {
		var p map[string]any
		if json.Unmarshal([]byte(*req.Policy), &p) != nil {
			return nil, &apiError{code: "MalformedPolicyDocumentException", msg: "The new key policy will not allow you to update the key policy in the future."}
		}
	}
	k := e.newKey(now, "", deref(req.Description), req.Policy)
	if req.KeyUsage != "" {
		k.usage = req.KeyUsage
	}
	if spec := cmpOr(req.KeySpec, req.CustomerMasterKeySpec); spec != "" {
		k.spec = spec
	}
	e.account().keys[k.id] = k
	e.log.Info("created KMS key", "key", k.arn)
	return e.keyMetadata(k), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (e *Emulator) keyFromReq(body []byte) (*kmsKey, *kmsKeyReq, *apiError) {
	var req kmsKeyReq
	if err := decode(body, &req); err != nil {
		return nil, nil, err
	}
	v := &validator{}
	v.required("KeyId", req.KeyId != nil)
	v.length("KeyId", req.KeyId, 1, 2048)
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	k, aerr := e.findKey(*req.KeyId)
	return k, &req, aerr
}

func (e *Emulator) kmsDescribeKey(_ time.Time, body []byte) (any, *apiError) {
	k, _, aerr := e.keyFromReq(body)
	if aerr != nil {
		return nil, aerr
	}
	return e.keyMetadata(k), nil
}

func (e *Emulator) kmsEnableKey(_ time.Time, body []byte) (any, *apiError) {
	return e.setKeyState(body, keyEnabled)
}

func (e *Emulator) kmsDisableKey(_ time.Time, body []byte) (any, *apiError) {
	return e.setKeyState(body, keyDisabled)
}

func (e *Emulator) setKeyState(body []byte, state string) (any, *apiError) {
	k, _, aerr := e.keyFromReq(body)
	if aerr != nil {
		return nil, aerr
	}
	if k.state == keyPendingDeletion {
		return nil, &apiError{code: "KMSInvalidStateException", msg: k.arn + " is pending deletion."}
	}
	k.state = state
	return nil, nil
}

func (e *Emulator) kmsScheduleKeyDeletion(now time.Time, body []byte) (any, *apiError) {
	k, req, aerr := e.keyFromReq(body)
	if aerr != nil {
		return nil, aerr
	}
	days := int32(30)
	if req.PendingWindowInDays != nil {
		days = *req.PendingWindowInDays
	}
	if days < 7 || days > 30 {
		return nil, errValidation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
	}
	k.state = keyPendingDeletion
	k.deletion = now.Add(time.Duration(days) * 24 * time.Hour)
	return map[string]any{"KeyId": k.arn, "DeletionDate": ts(k.deletion), "KeyState": k.state, "PendingWindowInDays": days}, nil
}

func (e *Emulator) kmsGetKeyPolicy(_ time.Time, body []byte) (any, *apiError) {
	k, req, aerr := e.keyFromReq(body)
	if aerr != nil {
		return nil, aerr
	}
	if name := deref(req.PolicyName); name != "" && name != "default" {
		return nil, &apiError{code: "NotFoundException", msg: "No such policy exists"}
	}
	return map[string]any{"Policy": k.policy, "PolicyName": "default"}, nil
}

func (e *Emulator) kmsPutKeyPolicy(_ time.Time, body []byte) (any, *apiError) {
	k, req, aerr := e.keyFromReq(body)
	if aerr != nil {
		return nil, aerr
	}
	var p map[string]any
	if req.Policy == nil || json.Unmarshal([]byte(*req.Policy), &p) != nil {
		return nil, &apiError{code: "MalformedPolicyDocumentException", msg: "The policy is not valid JSON."}
	}
	k.policy = *req.Policy
	return nil, nil
}

func (e *Emulator) kmsCreateAlias(_ time.Time, body []byte) (any, *apiError) {
	var req kmsKeyReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	name := deref(req.AliasName)
	if !strings.HasPrefix(name, "alias/") || strings.HasPrefix(name, "alias/aws/") {
		return nil, errValidation("Alias must start with the prefix \"alias/\" and must not begin with \"alias/aws/\"")
	}
	if _, ok := e.account().aliases[name]; ok {
		return nil, &apiError{code: "AlreadyExistsException", msg: "An alias with the name " + name + " already exists"}
	}
	k, aerr := e.findKey(deref(req.TargetKeyId))
	if aerr != nil {
		return nil, aerr
	}
	e.account().aliases[name] = k.id
	return nil, nil
}
