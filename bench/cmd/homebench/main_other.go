//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// main says why there is nothing to run: the benchmark mounts tmpfs and FUSE file
// systems and times the mover, which all need Linux.
func main() {
	fmt.Fprintf(os.Stderr, "homebench: runs on Linux only (tmpfs and FUSE mounts, and the mover it times); this is %s/%s: run bench/run.sh on a Linux host\n", runtime.GOOS, runtime.GOARCH)
	os.Exit(1)
}
