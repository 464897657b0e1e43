package emulator

import "os"

func fileOwner(fi os.FileInfo) (uid, gid int) {
	uid, gid, _ = ownerOf(fi)
	return uid, gid
}
