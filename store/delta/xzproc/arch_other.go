//go:build linux && cgo && !amd64 && !arm64

package xzproc

const auditArch = 0
