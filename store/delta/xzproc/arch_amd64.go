//go:build linux && cgo

package xzproc

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64
