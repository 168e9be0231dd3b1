package sysroot

import (
	"fmt"
	"os"
	"strings"
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
