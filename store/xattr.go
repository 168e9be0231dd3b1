package store

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"arbor/store/object"
)

// readXattrList calls list until the buffer is big enough (the list can grow
// between the size query and the read).
func readXattrList(list func([]byte) (int, error), get func(string, []byte) (int, error)) ([]object.Xattr, error) {
	buf := make([]byte, 1024)
	var n int
	var err error
	for {
		n, err = list(buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing xattrs: %w", err)
		}
		break
	}
	var out []object.Xattr
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		v, err := readXattr(func(b []byte) (int, error) { return get(string(name), b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s: %w", name, err)
		}
		out = append(out, object.Xattr{Name: string(name), Value: v})
	}
	object.SortXattrs(out)
	return out, nil
}

func readXattr(get func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := get(buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			if len(buf) > 1<<24 {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n:n], nil
	}
}

func fdXattrs(fd int) ([]object.Xattr, error) {
	return readXattrList(
		func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		func(name string, b []byte) (int, error) { return unix.Fgetxattr(fd, name, b) })
}

// pathXattrs reads the xattrs of a path; follow is false for symlinks.
func pathXattrs(path string, follow bool) ([]object.Xattr, error) {
	if follow {
		return readXattrList(
			func(b []byte) (int, error) { return unix.Listxattr(path, b) },
			func(name string, b []byte) (int, error) { return unix.Getxattr(path, name, b) })
	}
	return readXattrList(
		func(b []byte) (int, error) { return unix.Llistxattr(path, b) },
		func(name string, b []byte) (int, error) { return unix.Lgetxattr(path, name, b) })
}

func fgetxattr(fd int, name string) ([]byte, error) {
	return readXattr(func(b []byte) (int, error) { return unix.Fgetxattr(fd, name, b) })
}

// getxattrAt reads an xattr of dir-relative path without following a final
// symlink: getxattrat(2) where the kernel has it (6.13+), which resolves only
// the relative path, else lgetxattr on the /proc path of the directory.
func getxattrAt(dirfd int, rel, name string, buf []byte) (int, error) {
	n, err := getxattrat(dirfd, rel, name, buf)
	if !errors.Is(err, unix.ENOSYS) {
		return n, err
	}
	return unix.Lgetxattr(fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, rel), name, buf)
}

const sysGetxattrat = 464 // x86_64, arm64 and the other generic tables

func getxattrat(dirfd int, rel, name string, buf []byte) (int, error) {
	p, err := unix.BytePtrFromString(rel)
	if err != nil {
		return 0, err
	}
	np, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	// struct xattr_args { u64 value; u32 size; u32 flags; }
	args := struct {
		value uint64
		size  uint32
		flags uint32
	}{uint64(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf)), 0}
	r, _, e := unix.Syscall6(sysGetxattrat, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_SYMLINK_NOFOLLOW,
		uintptr(unsafe.Pointer(np)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(buf)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
