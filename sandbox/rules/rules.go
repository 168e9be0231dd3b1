// Package rules compiles flatpak's default seccomp rules with libseccomp.
// The sandbox does not link it: it loads the programs compiled here ahead
// of time (go generate ./sandbox), which a test keeps equal to what
// libseccomp makes of the rules now.
package rules

import (
	"fmt"
	"os"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"arbor/sandbox/boot"
)

// filter builds flatpak's default seccomp rules: a deny list over an
// allowing default (see spec/flatpak-facts.md, 4.7).
func filter(ft boot.Features) (*seccomp.ScmpFilter, error) {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, err
	}
	// Syscalls of any other architecture kill the process; multiarch
	// lets 32-bit x86 programs in on x86_64, as flatpak does.
	if err := f.SetBadArchAction(seccomp.ActKillProcess); err != nil {
		return nil, err
	}
	if native, err := seccomp.GetNativeArch(); err == nil && native == seccomp.ArchAMD64 && ft.Multiarch {
		if err := f.AddArch(seccomp.ArchX86); err != nil {
			return nil, err
		}
	}
	eperm := seccomp.ActErrno.SetReturnCode(int16(unix.EPERM))
	enosys := seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))
	eafnosupport := seccomp.ActErrno.SetReturnCode(int16(unix.EAFNOSUPPORT))
	rule := func(name string, act seccomp.ScmpAction, conds ...seccomp.ScmpCondition) error {
		sc, err := seccomp.GetSyscallFromName(name)
		if err != nil {
			return nil // not on this architecture
		}
		if len(conds) == 0 {
			err = f.AddRule(sc, act)
		} else {
			err = f.AddRuleConditional(sc, act, conds)
		}
		if err != nil {
			return fmt.Errorf("seccomp rule for %s: %w", name, err)
		}
		return nil
	}
	cond := func(arg uint, op seccomp.ScmpCompareOp, v ...uint64) seccomp.ScmpCondition {
		c, err := seccomp.MakeCondition(arg, op, v...)
		if err != nil {
			panic(err) // the operands below are constants
		}
		return c
	}
	denied := []string{"syslog", "uselib", "acct", "quotactl", "add_key", "keyctl", "request_key",
		"move_pages", "mbind", "get_mempolicy", "set_mempolicy", "migrate_pages",
		"unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot"}
	if !ft.Multiarch {
		denied = append(denied, "modify_ldt")
	}
	if !ft.Devel {
		denied = append(denied, "perf_event_open", "ptrace")
	}
	// io_uring runs operations the kernel never shows this filter: it
	// made an AF_VSOCK socket that socket() refuses. EPERM, as Docker's
	// and containerd's profiles answer and as the kernel's own switch
	// (kernel.io_uring_disabled) does, so that software already falls
	// back to epoll or plain reads. Flatpak does not filter it.
	denied = append(denied, "io_uring_setup", "io_uring_enter", "io_uring_register")
	for _, name := range denied {
		if err := rule(name, eperm); err != nil {
			return nil, err
		}
	}
	// The new mount API and clone3 (whose flags a filter cannot see):
	// ENOSYS, so that libc falls back to clone.
	for _, name := range []string{"clone3", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"} {
		if err := rule(name, enosys); err != nil {
			return nil, err
		}
	}
	rules := []struct {
		name  string
		act   seccomp.ScmpAction
		conds []seccomp.ScmpCondition
	}{
		{"clone", eperm, []seccomp.ScmpCondition{cond(0, seccomp.CompareMaskedEqual, unix.CLONE_NEWUSER, unix.CLONE_NEWUSER)}},
		// Only the low 32 bits of the request count (CVE-2019-10063).
		{"ioctl", eperm, []seccomp.ScmpCondition{cond(1, seccomp.CompareMaskedEqual, 0xFFFFFFFF, unix.TIOCSTI)}},
		{"ioctl", eperm, []seccomp.ScmpCondition{cond(1, seccomp.CompareMaskedEqual, 0xFFFFFFFF, unix.TIOCLINUX)}},
	}
	if !ft.Devel {
		rules = append(rules, struct {
			name  string
			act   seccomp.ScmpAction
			conds []seccomp.ScmpCondition
		}{"personality", eperm, []seccomp.ScmpCondition{cond(0, seccomp.CompareNotEqual, 0)}})
	}
	for _, r := range rules {
		if err := rule(r.name, r.act, r.conds...); err != nil {
			return nil, err
		}
	}
	// Socket families: only those listed are allowed, for socket() and
	// for socketpair(), which makes sockets of its own (AF_TIPC's) that
	// flatpak's filter lets through.
	allowed := map[uint64]bool{unix.AF_UNSPEC: true, unix.AF_UNIX: true, unix.AF_INET: true, unix.AF_INET6: true, unix.AF_NETLINK: true}
	if ft.Canbus {
		allowed[unix.AF_CAN] = true
	}
	if ft.Bluetooth {
		allowed[unix.AF_BLUETOOTH] = true
	}
	const lastFamily = unix.AF_MAX
	for _, call := range []string{"socket", "socketpair"} {
		for fam := uint64(0); fam < lastFamily; fam++ {
			if !allowed[fam] {
				if err := rule(call, eafnosupport, cond(0, seccomp.CompareEqual, fam)); err != nil {
					return nil, err
				}
			}
		}
		if err := rule(call, eafnosupport, cond(0, seccomp.CompareGreaterEqual, lastFamily)); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Compile builds the filter for the features and returns it as a BPF
// program.
func Compile(ft boot.Features) ([]byte, error) {
	f, err := filter(ft)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	fd, err := unix.MemfdCreate("arbor-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	mf := os.NewFile(uintptr(fd), "arbor-seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("compiling the seccomp filter: %w", err)
	}
	return os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", fd))
}
