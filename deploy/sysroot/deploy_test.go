package sysroot

import (
	"strings"
	"testing"

	"arbor/store/object"
)

// The boot menu after a deploy keeps what ostree keeps, in its order.
func TestNewList(t *testing.T) {
	mk := func(name, root string) *Deployment {
		return &Deployment{Stateroot: root, title: name}
	}
	names := func(ds []*Deployment) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.title)
		}
		return strings.Join(out, " ")
	}
	a, b, c, other := mk("a", "os"), mk("b", "os"), mk("c", "os"), mk("other", "x")
	ds := []*Deployment{a, b, c, other}
	n := mk("new", "os")
	for _, x := range []struct {
		name  string
		merge *Deployment
		o     DeployOptions
		want  string
	}{
		{"default", a, DeployOptions{Stateroot: "os"}, "new a other"},
		{"retain", a, DeployOptions{Stateroot: "os", Retain: true}, "new a b c other"},
		{"not as default", a, DeployOptions{Stateroot: "os", NotDefault: true}, "a new other"},
		{"retain rollback", b, DeployOptions{Stateroot: "os", RetainRollback: true}, "new b c other"},
		{"retain pending", b, DeployOptions{Stateroot: "os", RetainPending: true}, "new a b other"},
		{"no merge", nil, DeployOptions{Stateroot: "os"}, "new other"},
	} {
		if got := names(newList(ds, n, x.merge, x.o)); got != x.want {
			t.Errorf("%s: %s, want %s", x.name, got, x.want)
		}
	}
}

func TestSameBootConfig(t *testing.T) {
	v := func(object.Checksum) string { return "1" }
	a := []*Deployment{{Stateroot: "os", BootCsum: "k", Kargs: []string{"quiet"}}}
	same := []*Deployment{{Stateroot: "os", BootCsum: "k", Kargs: []string{"quiet"}, Serial: 3}}
	kargs := []*Deployment{{Stateroot: "os", BootCsum: "k"}}
	if !sameBootConfig(a, same, v) {
		t.Error("same kernels and arguments differ")
	}
	if sameBootConfig(a, kargs, v) || sameBootConfig(a, append(same, same...), v) {
		t.Error("other arguments or count the same")
	}
}
