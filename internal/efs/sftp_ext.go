package efs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"golang.org/x/crypto/ssh"
)

// extClient speaks just enough SFTP v3 on a second "sftp" subsystem session to send
// the OpenSSH extended requests that pkg/sftp has no API for: lsetstat@openssh.com
// (set owner and times on a symlink itself) and limits@openssh.com (the server's
// packet limits, to size pkg/sftp's MaxPacket). Requests are pipelined: many
// goroutines may wait on one session at a time.
type extClient struct {
	sess *ssh.Session
	w    io.WriteCloser
	r    io.Reader

	wmu sync.Mutex // serialises packet writes

	mu       sync.Mutex
	nextID   uint32
	inflight map[uint32]chan extReply
	err      error // set once the session is dead

	exts map[string]string // from SSH_FXP_VERSION
}

type extReply struct {
	typ  byte
	data []byte // after the request id
	err  error
}

const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpStatus        = 101
	fxpExtended      = 200
	fxpExtendedReply = 201

	fxAttrUIDGID      = 0x2
	fxAttrPermissions = 0x4
	fxAttrACModTime   = 0x8

	extLsetstat = "lsetstat@openssh.com"
	extLimits   = "limits@openssh.com"
	extHardlink = "hardlink@openssh.com"
	extRename   = "posix-rename@openssh.com"
)

// errExtSessionLost marks a dead side session; callers map it to ErrConnectionLost.
var errExtSessionLost = errors.New("sftp extension session closed")

func newExtClient(c *ssh.Client) (*extClient, error) {
	sess, err := c.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		sess.Close()
		return nil, fmt.Errorf("requesting the sftp subsystem: %w", err)
	}
	e := &extClient{sess: sess, w: w, r: r, inflight: map[uint32]chan extReply{}, exts: map[string]string{}}
	if err := e.writePacket(fxpInit, binary.BigEndian.AppendUint32(nil, 3)); err != nil {
		sess.Close()
		return nil, err
	}
	typ, data, err := e.readPacket()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("reading the sftp version: %w", err)
	}
	if typ != fxpVersion || len(data) < 4 {
		sess.Close()
		return nil, fmt.Errorf("unexpected sftp packet type %d instead of version", typ)
	}
	data = data[4:]
	for len(data) > 0 {
		var name, val string
		var ok bool
		if name, data, ok = cutString(data); !ok {
			break
		}
		if val, data, ok = cutString(data); !ok {
			break
		}
		e.exts[name] = val
	}
	go e.readLoop()
	return e, nil
}

func (e *extClient) has(ext string) bool { _, ok := e.exts[ext]; return ok }

func (e *extClient) Close() error { return e.sess.Close() }

func (e *extClient) writePacket(typ byte, payload []byte) error {
	buf := make([]byte, 0, 5+len(payload))
	buf = binary.BigEndian.AppendUint32(buf, uint32(1+len(payload)))
	buf = append(buf, typ)
	buf = append(buf, payload...)
	e.wmu.Lock()
	defer e.wmu.Unlock()
	_, err := e.w.Write(buf)
	return err
}

func (e *extClient) readPacket() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(e.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > 1<<20 {
		return 0, nil, fmt.Errorf("bad sftp packet length %d", n)
	}
	data := make([]byte, n-1)
	if _, err := io.ReadFull(e.r, data); err != nil {
		return 0, nil, err
	}
	return hdr[4], data, nil
}

func (e *extClient) readLoop() {
	var err error
	for {
		var typ byte
		var data []byte
		typ, data, err = e.readPacket()
		if err != nil {
			break
		}
		if len(data) < 4 {
			err = fmt.Errorf("short sftp packet type %d", typ)
			break
		}
		id := binary.BigEndian.Uint32(data)
		e.mu.Lock()
		ch := e.inflight[id]
		delete(e.inflight, id)
		e.mu.Unlock()
		if ch != nil {
			ch <- extReply{typ: typ, data: data[4:]}
		}
	}
	e.mu.Lock()
	e.err = fmt.Errorf("%w: %v", errExtSessionLost, err)
	for id, ch := range e.inflight {
		ch <- extReply{err: e.err}
		delete(e.inflight, id)
	}
	e.mu.Unlock()
	e.sess.Close()
}

// extended sends an SSH_FXP_EXTENDED request and waits for its reply.
func (e *extClient) extended(name string, body []byte) (extReply, error) {
	ch := make(chan extReply, 1)
	e.mu.Lock()
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return extReply{}, err
	}
	e.nextID++
	id := e.nextID
	e.inflight[id] = ch
	e.mu.Unlock()

	p := binary.BigEndian.AppendUint32(nil, id)
	p = appendString(p, name)
	p = append(p, body...)
	if err := e.writePacket(fxpExtended, p); err != nil {
		e.mu.Lock()
		delete(e.inflight, id)
		e.mu.Unlock()
		return extReply{}, fmt.Errorf("%w: %v", errExtSessionLost, err)
	}
	r := <-ch
	return r, r.err
}

// fxStatusError is a non-OK SSH_FXP_STATUS from the extension session.
type fxStatusError struct {
	Code uint32
	Msg  string
}

func (e *fxStatusError) Error() string {
	return fmt.Sprintf("sftp status %d (%s)", e.Code, e.Msg)
}

func statusErr(r extReply) error {
	if r.typ != fxpStatus || len(r.data) < 4 {
		return fmt.Errorf("unexpected sftp reply type %d", r.typ)
	}
	code := binary.BigEndian.Uint32(r.data)
	if code == 0 {
		return nil
	}
	msg, _, _ := cutString(r.data[4:])
	switch code {
	case 2: // SSH_FX_NO_SUCH_FILE
		return fmt.Errorf("%s: %w", msg, fs.ErrNotExist)
	case 3: // SSH_FX_PERMISSION_DENIED
		return fmt.Errorf("%s: %w", msg, fs.ErrPermission)
	case 8: // SSH_FX_OP_UNSUPPORTED
		return fmt.Errorf("%s: %w", msg, ErrNotSupported)
	}
	return &fxStatusError{Code: code, Msg: msg}
}

// lsetstat sets the attributes selected by flags on name without following a symlink.
func (e *extClient) lsetstat(name string, flags uint32, uid, gid, perm, atime, mtime uint32) error {
	b := appendString(nil, name)
	b = binary.BigEndian.AppendUint32(b, flags)
	if flags&fxAttrUIDGID != 0 {
		b = binary.BigEndian.AppendUint32(b, uid)
		b = binary.BigEndian.AppendUint32(b, gid)
	}
	if flags&fxAttrPermissions != 0 {
		b = binary.BigEndian.AppendUint32(b, perm)
	}
	if flags&fxAttrACModTime != 0 {
		b = binary.BigEndian.AppendUint32(b, atime)
		b = binary.BigEndian.AppendUint32(b, mtime)
	}
	r, err := e.extended(extLsetstat, b)
	if err != nil {
		return err
	}
	return statusErr(r)
}

// sftpLimits is the reply to limits@openssh.com.
type sftpLimits struct {
	MaxPacket, MaxRead, MaxWrite, MaxHandles uint64
}

func (e *extClient) limits() (sftpLimits, error) {
	r, err := e.extended(extLimits, nil)
	if err != nil {
		return sftpLimits{}, err
	}
	if r.typ != fxpExtendedReply {
		return sftpLimits{}, statusErr(r)
	}
	if len(r.data) < 32 {
		return sftpLimits{}, fmt.Errorf("short limits@openssh.com reply")
	}
	d := r.data
	return sftpLimits{
		MaxPacket:  binary.BigEndian.Uint64(d[0:]),
		MaxRead:    binary.BigEndian.Uint64(d[8:]),
		MaxWrite:   binary.BigEndian.Uint64(d[16:]),
		MaxHandles: binary.BigEndian.Uint64(d[24:]),
	}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func cutString(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", b, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return "", b, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
}
