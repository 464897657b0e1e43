package efs

// LocalUseWalk makes l resolve names with the component-by-component walk used on
// kernels without openat2, so tests cover both paths.
func LocalUseWalk(l *Local) { l.walkFn = true }
