package efs

// The wire protocol between the SFTP client (SFTP) and this program's far end
// (ServeSFTP, Linux only): names, extended attributes and their encodings. It is
// portable so that a client on any platform speaks it; only the server needs Linux.

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/pkg/sftp"
)

// The remote end of the recommended SFTP mode: `migrator sftp-server --root DIR`,
// run by the client over an SSH exec channel (as rsync runs itself on the far end),
// speaks SFTP v3 on stdin/stdout with pkg/sftp's request server, on top of a Local
// rooted at DIR. Every name is resolved by Local (openat2 with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so no symlink is ever followed in any component, whatever
// is swapped in while a copy runs: the hole OpenSSH's sftp-server leaves (SFTP v3
// has no "do not follow" for intermediate components) does not exist here.
//
// Semantics the client relies on (and that differ from OpenSSH's sftp-server):
//   - setstat never follows a symlink (it is lsetstat), and refuses a file with other
//     hardlinks (Local.Setattr's rule);
//   - stat is lstat; opendir/open of a symlink fail;
//   - mkdir of an existing name fails (so the client knows not to chmod it);
//   - symlink targets are stored verbatim;
//   - attributes carry the inode (dev, ino, nlink) and the mtime to the nanosecond
//     in the extended attribute sftpStatExt, so hardlinks in a source are seen;
//   - a setstat that carries the extended attribute sftpSetattrExt sets owner,
//     mode and a nanosecond mtime in one request (one round trip per file);
//   - a setstat that carries sftpCreateExt creates the file exclusively (0600,
//     empty, owned by the server) and nothing else; one that carries sftpPutExt
//     (with sftpSetattrExt) writes the data into that file, still empty and the
//     server's own, then sets owner, mode and mtime, last: a new small file is two
//     requests (see SFTP.Create);
//   - RealPath(sftpHello) answers sftpHelloReply + the served root, which is how the
//     client knows it talks to this server and not to a stock one.
const (
	sftpHello      = "studio-migrator:hello"
	sftpHelloReply = "/studio-migrator:1:"
	sftpStatExt    = "stat@studio-migrator"
	sftpSetattrExt = "setattr@studio-migrator"
	sftpCreateExt  = "create@studio-migrator"
	sftpPutExt     = "put@studio-migrator"
)

type statExt struct {
	dev, ino, nlink uint64
	mtime           time.Time
}

// parseStatExt reads sftpStatExt from a FileStat.
func parseStatExt(st *sftp.FileStat) (statExt, bool) {
	for _, e := range st.Extended {
		if e.ExtType != sftpStatExt {
			continue
		}
		var x statExt
		var sec, nsec int64
		if n, err := fmt.Sscanf(e.ExtData, "%d:%d:%d:%d:%d", &x.dev, &x.ino, &x.nlink, &sec, &nsec); n != 5 || err != nil {
			return statExt{}, false
		}
		x.mtime = time.Unix(sec, nsec)
		return x, true
	}
	return statExt{}, false
}

// setattrExt encodes a Setattr for ServeSFTP: mask, owner, unix mode bits, mtime.
func setattrExt(attr Attr, mask SetMask) []sftp.StatExtended {
	return []sftp.StatExtended{{ExtType: sftpSetattrExt, ExtData: fmt.Sprintf("%d:%d:%d:%d:%d:%d",
		mask, attr.UID, attr.GID, wireMode(attr.Perm), attr.ModTime.Unix(), attr.ModTime.Nanosecond())}}
}

func parseSetattrExt(st *sftp.FileStat) (Attr, SetMask, bool) {
	if st == nil {
		return Attr{}, 0, false
	}
	for _, e := range st.Extended {
		if e.ExtType != sftpSetattrExt {
			continue
		}
		var mask, mode uint32
		var a Attr
		var sec, nsec int64
		if n, err := fmt.Sscanf(e.ExtData, "%d:%d:%d:%d:%d:%d", &mask, &a.UID, &a.GID, &mode, &sec, &nsec); n != 6 || err != nil {
			return Attr{}, 0, false
		}
		a.Perm = permFromUnix(mode)
		a.ModTime = time.Unix(sec, nsec)
		return a, SetMask(mask) & SetAll, true
	}
	return Attr{}, 0, false
}

// permFromUnix converts SFTP's unix mode bits to permission bits (with setuid,
// setgid and sticky).
func permFromUnix(m uint32) fs.FileMode {
	p := fs.FileMode(m & 0o777)
	if m&wireSetuid != 0 {
		p |= fs.ModeSetuid
	}
	if m&wireSetgid != 0 {
		p |= fs.ModeSetgid
	}
	if m&wireSticky != 0 {
		p |= fs.ModeSticky
	}
	return p
}

// sftpOursPacket is the data size of reads and writes between the client and
// ServeSFTP: pkg/sftp refuses messages over 256 KiB, headers included (OpenSSH's
// sftp-server uses the same 255 KiB).
const sftpOursPacket = 255 * 1024

// The POSIX st_mode bits SFTP carries (draft-ietf-secsh-filexfer-02, 5), whatever
// the platform that encodes or decodes them.
const (
	wireSetuid = 0o4000
	wireSetgid = 0o2000
	wireSticky = 0o1000
)

// wireMode converts permission bits, setuid, setgid and sticky to SFTP's mode bits.
func wireMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= wireSetuid
	}
	if m&fs.ModeSetgid != 0 {
		u |= wireSetgid
	}
	if m&fs.ModeSticky != 0 {
		u |= wireSticky
	}
	return u
}
