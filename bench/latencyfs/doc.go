// Package latencyfs mounts a FUSE pass-through (go-fuse's loopback) that charges a
// fixed delay per file-system operation, so the benchmark can show how tools behave
// on Amazon EFS without an AWS account.
//
// EFS (NFSv4.1) costs a network round trip per metadata operation, and it serves many
// outstanding operations at once: a serial tool waits for each one, a parallel tool
// overlaps them. The model keeps exactly those two properties. Every request sleeps
// its delay in its own goroutine before being passed through (go-fuse serves requests
// concurrently), so delays overlap across requests the way round trips do and never
// queue behind each other. Data itself moves at local speed: the model is about
// round trips, not bandwidth.
//
// Delays (DefaultDelays): Read, about 1 ms, for LOOKUP, GETATTR, STATX, OPEN,
// OPENDIR, READ, READDIR(PLUS), READLINK, ACCESS, STATFS and a FLUSH of a handle that
// wrote nothing (NFSv4 CLOSE); Write, about 3 ms, for CREATE, MKDIR, MKNOD, SYMLINK,
// LINK, SETATTR (chmod, chown, utimes, truncate), RENAME, UNLINK, RMDIR, FSYNC,
// COPY_FILE_RANGE and the FLUSH that closes a handle that wrote (the NFS client's
// COMMIT + CLOSE at close). WRITE itself is free, as the NFS client buffers writes
// and streams them. RELEASE and FORGET are free: the kernel sends them after close
// returned, so no caller waits for them.
//
// What still serializes is what serializes on a real NFS mount too: the kernel holds
// a directory's lock while it creates, links, renames or removes a name in it, so
// such operations in one directory queue behind each other on EFS as here, while
// lookups and listings (FUSE_PARALLEL_DIROPS) and anything in different directories
// overlap. The model sets no limit on requests in flight (the NFS client's RPC slot
// table is large); a tool with 64 workers gets 64 round trips at once.
//
// Kernel caches: entries, attributes and negative lookups are cached for one second
// (CacheTimeout). The Linux NFS client caches attributes for at least acregmin=3 s
// (acdirmin=30 s for directories), so one second charges a little more than EFS
// would, equally for every tool; it mostly matters for a second pass over the same
// names (chown -R after cp). Page-cache contents are dropped at every open (go-fuse's
// default), as NFS close-to-open consistency revalidates at open.
//
// Permissions: the FUSE server runs as root and passes operations through as root
// (no default_permissions, allow_other set), so root callers can chown to any UID
// through the mount, as on an EFS mounted by root without an access point.
package latencyfs
