// Package gvariant encodes and decodes GVariant values in normal form, the
// serialization OSTree uses for every metadata object, the summary and
// detached metadata. Checksums are taken over these bytes, so the encoder is
// exact and the decoder refuses anything that is not in normal form.
package gvariant

import (
	"errors"
	"fmt"
)

// maxDepth bounds nesting in types and values so hostile input cannot
// exhaust the stack (GLib uses a similar limit).
const maxDepth = 64

// Type is a parsed GVariant type signature.
type Type struct {
	Kind   byte    // one of ybnqiuxthdsogv a m ( {
	Elem   *Type   // element of 'a' and 'm'
	Fields []*Type // members of '(' and '{'
	align  int     // 1, 2, 4 or 8
	size   int     // fixed size, 0 when variable-size
	sig    string
}

// String returns the type signature.
func (t *Type) String() string { return t.sig }

// Fixed reports the fixed serialized size, and false for variable-size types.
func (t *Type) Fixed() (int, bool) { return t.size, t.size > 0 }

// Align returns the alignment of the type in bytes.
func (t *Type) Align() int { return t.align }

// ParseType parses one complete type signature.
func ParseType(sig string) (*Type, error) {
	t, rest, err := parseOne(sig, 0)
	if err != nil {
		return nil, fmt.Errorf("gvariant: type %q: %w", sig, err)
	}
	if rest != "" {
		return nil, fmt.Errorf("gvariant: type %q: trailing %q", sig, rest)
	}
	return t, nil
}

// MustType is ParseType for signatures known at compile time.
func MustType(sig string) *Type {
	t, err := ParseType(sig)
	if err != nil {
		panic(err)
	}
	return t
}

var errTypeDepth = errors.New("nesting too deep")

func parseOne(s string, depth int) (*Type, string, error) {
	if depth > maxDepth {
		return nil, "", errTypeDepth
	}
	if s == "" {
		return nil, "", errors.New("incomplete")
	}
	c := s[0]
	switch c {
	case 'y', 'b':
		return basic(c, 1, 1), s[1:], nil
	case 'n', 'q':
		return basic(c, 2, 2), s[1:], nil
	case 'i', 'u', 'h':
		return basic(c, 4, 4), s[1:], nil
	case 'x', 't', 'd':
		return basic(c, 8, 8), s[1:], nil
	case 's', 'o', 'g':
		return &Type{Kind: c, align: 1, sig: s[:1]}, s[1:], nil
	case 'v':
		return &Type{Kind: c, align: 8, sig: "v"}, s[1:], nil
	case 'a', 'm':
		e, rest, err := parseOne(s[1:], depth+1)
		if err != nil {
			return nil, "", err
		}
		t := &Type{Kind: c, Elem: e, align: e.align}
		t.sig = s[:len(s)-len(rest)]
		return t, rest, nil
	case '(', '{':
		closer := byte(')')
		if c == '{' {
			closer = '}'
		}
		t := &Type{Kind: c, align: 1}
		rest := s[1:]
		for {
			if rest == "" {
				return nil, "", errors.New("unterminated container")
			}
			if rest[0] == closer {
				rest = rest[1:]
				break
			}
			f, r, err := parseOne(rest, depth+1)
			if err != nil {
				return nil, "", err
			}
			t.Fields = append(t.Fields, f)
			rest = r
		}
		if c == '{' {
			if len(t.Fields) != 2 {
				return nil, "", errors.New("dict entry needs two members")
			}
			if !isBasic(t.Fields[0].Kind) {
				return nil, "", errors.New("dict entry key must be a basic type")
			}
		}
		t.sig = s[:len(s)-len(rest)]
		fixed := true
		off := 0
		for _, f := range t.Fields {
			if f.align > t.align {
				t.align = f.align
			}
			if f.size == 0 {
				fixed = false
				continue
			}
			off = alignUp(off, f.align) + f.size
		}
		switch {
		case len(t.Fields) == 0:
			t.size = 1 // the unit tuple is one zero byte
		case fixed:
			t.size = alignUp(off, t.align)
		}
		return t, rest, nil
	}
	return nil, "", fmt.Errorf("unknown type character %q", c)
}

func basic(c byte, align, size int) *Type {
	return &Type{Kind: c, align: align, size: size, sig: string(c)}
}

func isBasic(c byte) bool {
	switch c {
	case 'y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'h', 'd', 's', 'o', 'g':
		return true
	}
	return false
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }
