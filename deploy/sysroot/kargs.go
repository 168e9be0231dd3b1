package sysroot

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"arbor/store/atomic"
)

// KargEdit is how a deployment's kernel arguments derive from the merge
// deployment's, as ostree's admin deploy takes them: start from those
// (or from none, or from this boot's /proc/cmdline), then replace, append
// and delete in that order.
type KargEdit struct {
	None, ProcCmdline bool
	// Replace sets KEY[=VALUE]: every argument of that key gives way to
	// this one, at the first one's place; a new key goes at the end.
	Replace []string
	Append  []string
	// AppendIfMissing appends each argument whose key is not there yet.
	AppendIfMissing []string
	// Delete removes KEY=VALUE exactly, or every argument of KEY.
	Delete []string
}

func kargKey(a string) string {
	k, _, _ := strings.Cut(a, "=")
	return k
}

// apply edits base (the merge deployment's arguments).
func (e *KargEdit) apply(base []string) ([]string, error) {
	if e == nil {
		return base, nil
	}
	if e.None && (e.ProcCmdline || len(e.Delete) > 0) {
		return nil, fmt.Errorf("kernel arguments: --karg-none goes with neither --karg-proc-cmdline nor --karg-delete")
	}
	out := append([]string(nil), base...)
	switch {
	case e.None:
		out = nil
	case e.ProcCmdline:
		b, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			return nil, fmt.Errorf("kernel arguments: %w", err)
		}
		out = nil
		for _, a := range strings.Fields(string(b)) {
			// What the boot loader and ostree add themselves.
			switch kargKey(a) {
			case "BOOT_IMAGE", "initrd", "ostree":
				continue
			}
			out = append(out, a)
		}
	}
	for _, r := range e.Replace {
		k, at := kargKey(r), -1
		kept := out[:0:0]
		for _, a := range out {
			if kargKey(a) == k {
				if at < 0 {
					at = len(kept)
					kept = append(kept, r)
				}
				continue
			}
			kept = append(kept, a)
		}
		if at < 0 {
			kept = append(kept, r)
		}
		out = kept
	}
	out = append(out, e.Append...)
	for _, a := range e.AppendIfMissing {
		k := kargKey(a)
		if !slices.ContainsFunc(out, func(b string) bool { return kargKey(b) == k }) {
			out = append(out, a)
		}
	}
	for _, d := range e.Delete {
		kept := out[:0:0]
		for _, a := range out {
			if a == d || !strings.Contains(d, "=") && kargKey(a) == d {
				continue
			}
			kept = append(kept, a)
		}
		out = kept
	}
	return out, nil
}

// SetKargs gives the deployment at index the kernel arguments edit makes
// of its current ones, in a new boot configuration (the deployment's
// files stay as they are).
func (s *Sysroot) SetKargs(ctx context.Context, index int, edit *KargEdit) (*Deployment, error) {
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	d, err := at(ds, index)
	if err != nil {
		return nil, err
	}
	if d.Kargs, err = edit.apply(d.Kargs); err != nil {
		return nil, err
	}
	return d, s.write(ctx, ds)
}

// EditKargsInPlace edits the kernel arguments of every deployment in the
// current boot entries, rewriting each entry file atomically rather than
// writing a new boot configuration.
func (s *Sysroot) EditKargsInPlace(edit *KargEdit) error {
	ds, err := s.Deployments()
	if err != nil {
		return err
	}
	for _, d := range ds {
		kargs, err := edit.apply(d.Kargs)
		if err != nil {
			return err
		}
		if slices.Equal(kargs, d.Kargs) {
			continue
		}
		b, err := os.ReadFile(d.entryFile)
		if err != nil {
			return fmt.Errorf("boot entry of %s: %w", d.Name(), err)
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
			if k != "options" {
				continue
			}
			var keep []string // the ostree= argument stays where it is
			for _, o := range strings.Fields(v) {
				if strings.HasPrefix(o, "ostree=") {
					keep = append(keep, o)
				}
			}
			lines[i] = "options " + strings.Join(append(kargs, keep...), " ")
		}
		if err := atomic.WriteFile(d.entryFile, []byte(strings.Join(lines, "\n")), 0o644, true); err != nil {
			return fmt.Errorf("boot entry of %s: %w", d.Name(), err)
		}
	}
	return nil
}
