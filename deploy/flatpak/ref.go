// Package flatpak holds what arbor shares with flatpak's formats: ref
// names, the metadata keyfile and the commit metadata build-export
// writes, checked the way flatpak checks them.
package flatpak

import (
	"fmt"
	"strings"

	"arbor/sandbox"
)

// Kind is app or runtime.
type Kind string

// The two kinds of refs.
const (
	App     Kind = "app"
	Runtime Kind = "runtime"
)

// Ref names an app or runtime build: KIND/ID/ARCH/BRANCH.
type Ref struct {
	Kind   Kind
	ID     string
	Arch   string
	Branch string
}

// DefaultBranch is flatpak's default.
const DefaultBranch = "master"

func (r Ref) String() string { return string(r.Kind) + "/" + r.ID + "/" + r.Arch + "/" + r.Branch }

// Partial is the ref without its kind, as metadata names runtimes.
func (r Ref) Partial() string { return r.ID + "/" + r.Arch + "/" + r.Branch }

// ParseRef parses a full ref.
func ParseRef(s string) (Ref, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 {
		return Ref{}, fmt.Errorf("ref %q: want KIND/ID/ARCH/BRANCH", s)
	}
	r := Ref{Kind: Kind(parts[0]), ID: parts[1], Arch: parts[2], Branch: parts[3]}
	if r.Kind != App && r.Kind != Runtime {
		return Ref{}, fmt.Errorf("ref %q: kind %q is neither app nor runtime", s, parts[0])
	}
	return r, r.Validate()
}

// ParsePartial parses ID/ARCH/BRANCH (a runtime= or sdk= value).
func ParsePartial(kind Kind, s string) (Ref, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Ref{}, fmt.Errorf("%q: want ID/ARCH/BRANCH", s)
	}
	r := Ref{Kind: kind, ID: parts[0], Arch: parts[1], Branch: parts[2]}
	return r, r.Validate()
}

// Validate applies flatpak's rules to each part.
func (r Ref) Validate() error {
	if err := sandbox.ValidateID(r.ID); err != nil {
		return err
	}
	if r.Arch == "" || strings.ContainsAny(r.Arch, "/\x00") || !isName(r.Arch, "-") {
		return fmt.Errorf("arch %q: invalid", r.Arch)
	}
	return ValidateBranch(r.Branch)
}

// ValidateBranch checks [A-Za-z0-9_-][A-Za-z0-9_.-]*.
func ValidateBranch(b string) error {
	if b == "" || b[0] == '.' || !isName(b, "-.") {
		return fmt.Errorf("branch %q: invalid", b)
	}
	return nil
}

func isName(s, extra string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// WithArch puts arch into a partial name that leaves it out ("ID",
// "ID//BRANCH", "app/ID"), as flatpak's --arch does; an empty arch, or a
// name that gives one, is left as it is.
func WithArch(name, arch string) string {
	if arch == "" {
		return name
	}
	prefix, s := "", name
	if k, rest, ok := strings.Cut(s, "/"); ok && (Kind(k) == App || Kind(k) == Runtime) {
		prefix, s = k+"/", rest
	}
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 1:
		parts = append(parts, arch)
	case parts[1] == "":
		parts[1] = arch
	}
	return prefix + strings.Join(parts, "/")
}

// Complete finds the one ref among candidates that a user's partial name
// means, as flatpak completes "ID", "ID//BRANCH", "ID/ARCH" or a full ref:
// empty parts match anything; more than one match is an error that lists
// them.
func Complete(name string, kind Kind, candidates []Ref) (Ref, error) {
	want := Ref{Kind: kind}
	s := name
	if k, rest, ok := strings.Cut(s, "/"); ok && (Kind(k) == App || Kind(k) == Runtime) {
		want.Kind, s = Kind(k), rest
	}
	parts := strings.Split(s, "/")
	if len(parts) > 3 {
		return Ref{}, fmt.Errorf("%q: too many parts", name)
	}
	want.ID = parts[0]
	if len(parts) > 1 {
		want.Arch = parts[1]
	}
	if len(parts) > 2 {
		want.Branch = parts[2]
	}
	var found []Ref
	for _, c := range candidates {
		if (want.Kind == "" || c.Kind == want.Kind) && c.ID == want.ID &&
			(want.Arch == "" || c.Arch == want.Arch) && (want.Branch == "" || c.Branch == want.Branch) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return Ref{}, fmt.Errorf("%s: no such ref", name)
	case 1:
		return found[0], nil
	}
	var names []string
	for _, f := range found {
		names = append(names, f.String())
	}
	return Ref{}, fmt.Errorf("%s is ambiguous: %s", name, strings.Join(names, ", "))
}
