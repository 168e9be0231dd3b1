// Command probe tries, from inside a sandbox, what a hostile app would,
// and prints one line per attempt: "NAME ok" when it worked, "NAME
// refused ERRNO" when it did not. The tests decide what must be refused.
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	for _, arg := range os.Args[1:] {
		name, param, _ := strings.Cut(arg, "=")
		err := try(name, param)
		if err == nil {
			fmt.Println(name, "ok")
		} else {
			fmt.Println(name, "refused", err)
		}
	}
}

func try(name, param string) error {
	runtime.LockOSThread()
	switch name {
	case "write":
		return os.WriteFile(param, []byte("x"), 0o644)
	case "read":
		_, err := os.ReadFile(param)
		return err
	case "open-write": // opened for writing and closed: nothing is written
		f, err := os.OpenFile(param, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		return err
	case "content": // there is something to read
		b, err := os.ReadFile(param)
		if err == nil && len(b) == 0 {
			return fmt.Errorf("empty")
		}
		return err
	case "host-procs": // more processes than a sandbox has
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return err
		}
		n := 0
		for _, e := range ents {
			if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
				n++
			}
		}
		if n <= 3 {
			return fmt.Errorf("only %d processes", n)
		}
		return nil
	case "connect":
		c, err := net.DialTimeout("tcp", param, 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	case "userns":
		return errno(unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0))
	case "mount":
		return unix.Mount("none", "/tmp", "tmpfs", 0, "")
	case "ptrace":
		return errno(unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0))
	case "af-packet":
		return sock(unix.AF_PACKET)
	case "af-key":
		return sock(unix.AF_KEY)
	case "io-uring": // io_uring_setup with one entry
		var params [120]byte
		r, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
		if e == 0 {
			unix.Close(int(r))
		}
		return errno(r, 0, e)
	case "tiocsti":
		c := byte('x')
		return errno(unix.RawSyscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))))
	case "env":
		if os.Getenv(param) == "" {
			return fmt.Errorf("%s unset", param)
		}
		return nil
	}
	return fmt.Errorf("unknown probe %q", name)
}

func sock(family int) error {
	fd, err := unix.Socket(family, unix.SOCK_RAW, 0)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func errno(_, _ uintptr, e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}
