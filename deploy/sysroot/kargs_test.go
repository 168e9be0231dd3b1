package sysroot

import (
	"strings"
	"testing"
)

// Kernel arguments edit as ostree's admin deploy edits them.
func TestKargEdit(t *testing.T) {
	base := []string{"root=LABEL=MOO", "quiet", "console=tty0", "console=ttyS0"}
	for _, x := range []struct {
		name string
		e    *KargEdit
		want string
	}{
		{"none given", nil, "root=LABEL=MOO quiet console=tty0 console=ttyS0"},
		{"replace in place", &KargEdit{Replace: []string{"console=hvc0", "FOO=BAR"}}, "root=LABEL=MOO quiet console=hvc0 FOO=BAR"},
		{"append keeps order", &KargEdit{Append: []string{"A=1", "A=2"}}, "root=LABEL=MOO quiet console=tty0 console=ttyS0 A=1 A=2"},
		{"delete one value", &KargEdit{Delete: []string{"console=tty0"}}, "root=LABEL=MOO quiet console=ttyS0"},
		{"delete a key", &KargEdit{Delete: []string{"console"}}, "root=LABEL=MOO quiet"},
		{"start from none", &KargEdit{None: true, Append: []string{"x"}}, "x"},
	} {
		got, err := x.e.apply(base)
		if err != nil || strings.Join(got, " ") != x.want {
			t.Errorf("%s: %v %v, want %s", x.name, got, err, x.want)
		}
	}
	if _, err := (&KargEdit{None: true, Delete: []string{"x"}}).apply(base); err == nil {
		t.Error("--karg-none with --karg-delete accepted")
	}
}

func TestAppendIfMissing(t *testing.T) {
	base := []string{"root=LABEL=MOO", "quiet"}
	for _, x := range []struct {
		add  []string
		want string
	}{
		{[]string{"TESTARG=1", "NOKEY"}, "root=LABEL=MOO quiet TESTARG=1 NOKEY"},
		{[]string{"quiet"}, "root=LABEL=MOO quiet"},
		{[]string{"root=/dev/sda"}, "root=LABEL=MOO quiet"}, // by key, not by value
	} {
		got, err := (&KargEdit{AppendIfMissing: x.add}).apply(base)
		if err != nil || strings.Join(got, " ") != x.want {
			t.Errorf("%v: %v %v, want %s", x.add, got, err, x.want)
		}
	}
}

func TestSwitchRefspec(t *testing.T) {
	for _, x := range []struct {
		cur, target, want string
	}{
		{"os:a/b", "a/c", "os:a/c"},
		{"os:a/b", "other:a/c", "other:a/c"},
		{"os:a/b", "other:", "other:a/b"},
		{"a/b", "a/c", "a/c"},
		{"os:a/b", "a/b", ""}, // the same: refused
	} {
		got, err := SwitchRefspec(x.cur, x.target)
		if x.want == "" {
			if err == nil {
				t.Errorf("%s -> %s: %s accepted", x.cur, x.target, got)
			}
			continue
		}
		if err != nil || got != x.want {
			t.Errorf("%s -> %s: %q %v, want %s", x.cur, x.target, got, err, x.want)
		}
	}
}
