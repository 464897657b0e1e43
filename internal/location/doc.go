// Package location parses and opens the places home directories are copied from and
// to: a local directory (a mounted EFS) or sftp://[user@]host[:port]/path on a host
// that mounts one. The CLI (copy-home, migrate, backup, restore) and the worker share
// it, so a location string means the same thing wherever an administrator writes it.
//
// A Location holds no secret: it is safe in task payloads, job records and logs.
// How to authenticate and which host keys to trust are Options of the process that
// opens it (its flags and environment), never part of the string.
package location
