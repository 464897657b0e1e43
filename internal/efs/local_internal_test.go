//go:build linux

package efs

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestLocalClearNonblock(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.Read(p[0], make([]byte, 1)); err != unix.EAGAIN {
		t.Fatalf("non-blocking read of an empty pipe = %v", err)
	}
	if !clearNonblock(p[0]) {
		t.Error("clearNonblock on a non-blocking descriptor = false")
	}
	if clearNonblock(p[0]) {
		t.Error("clearNonblock on a blocking descriptor = true (a retry loop would spin)")
	}
	if fl, _ := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("still O_NONBLOCK")
	}
}

func TestValidFSName(t *testing.T) {
	for name, want := range map[string]bool{
		".": true, "a": true, "a/b": true, "bad\xff": true, "new\nline": true, "...": true, "a/.b": true,
		"": false, "/": false, "/a": false, "a/": false, "a//b": false, "./a": false, "a/.": false,
		"..": false, "a/../b": false, "a\x00b": false,
	} {
		if got := validFSName(name); got != want {
			t.Errorf("validFSName(%q) = %v, want %v", name, got, want)
		}
	}
}
