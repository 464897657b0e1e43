package efs

import "testing"

// LocalUseWalk makes l resolve names with the component-by-component walk used on
// kernels without openat2, so tests cover both paths.
func LocalUseWalk(l *Local) { l.walkFn = true }

// LocalOldKernel makes l behave as on a kernel older than 5.6: no openat2 (the
// component walk) and no fchmodat2 (chmod through an O_PATH descriptor and
// /proc/self/fd), until the test ends. The fchmodat2 switch is process-wide, so
// tests using it must not run in parallel with other Local tests.
func LocalOldKernel(t testing.TB, l *Local) {
	l.walkFn = true
	prev := noFchmodat2.Load()
	noFchmodat2.Store(true)
	t.Cleanup(func() { noFchmodat2.Store(prev) })
}

// SetLocalHook makes fn run at Local's check-then-act points ("setattr-pinned",
// "mkdir-chmod") and before a written file's mtime is set ("close-times") until the test ends, so a test can swap the name in the window.
// Process-wide: tests using it must not run in parallel with other Local tests.
func SetLocalHook(t testing.TB, fn func(point, name string)) {
	localTestHook = fn
	t.Cleanup(func() { localTestHook = nil })
}

// SetCopyHook makes fn run after each file's data is copied, before the copier
// checks whether the file changed meanwhile, until the test ends.
func SetCopyHook(t testing.TB, fn func(point, name string)) {
	copyTestHook = fn
	t.Cleanup(func() { copyTestHook = nil })
}

// SetWriteHook makes fn run before each file is created in the destination
// ("create") and after its data is copied ("copied"), until the test ends.
func SetWriteHook(t testing.TB, fn func(point, name string)) {
	writeTestHook = fn
	t.Cleanup(func() { writeTestHook = nil })
}

// LocalNoUtimesEmptyPath makes Local behave as on a kernel whose utimensat refuses
// AT_EMPTY_PATH (before 5.8), until the test ends. Process-wide, like
// LocalOldKernel.
func LocalNoUtimesEmptyPath(t testing.TB) {
	prev := noUtimesEmptyPath.Load()
	noUtimesEmptyPath.Store(true)
	t.Cleanup(func() { noUtimesEmptyPath.Store(prev) })
}
