package gvariant

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseText reads a value written in GVariant text form, as GLib's
// g_variant_parse does and as users give metadata on the command line:
// 'text', true, 42, 3.5, [1, 2], (1, 'a'), {'k': <1>}, <'v'>, just 1,
// nothing, b'bytes', and type annotations (@a{sv} {}, uint64 123). want,
// when not nil, is the type the value must have; without it the type is
// inferred (a bare integer is an int32, as in GLib).
func ParseText(text string, want *Type) (Variant, error) {
	p := &textParser{s: text}
	n, err := p.value()
	if err != nil {
		return Variant{}, fmt.Errorf("parsing %q: %w", text, err)
	}
	p.space()
	if p.i != len(p.s) {
		return Variant{}, fmt.Errorf("parsing %q: unexpected %q", text, p.s[p.i:])
	}
	t, v, err := n.build(want)
	if err != nil {
		return Variant{}, fmt.Errorf("parsing %q: %w", text, err)
	}
	return Variant{Type: t, Value: v}, nil
}

// node is a parsed value whose type may not be known yet.
type node struct {
	kind  byte // 's' string, 'n' number, 'b' bool, '[' array, '(' tuple, '{' dict, 'e' dict entry, '<' variant, 'm' maybe, 'y' bytestring
	text  string
	kids  []*node // elements; a dict's are its entries, each an 'e' of two
	typ   *Type   // from an annotation
	valid bool    // of a maybe: just rather than nothing
}

type textParser struct {
	s string
	i int
}

func (p *textParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *textParser) peek(prefix string) bool {
	p.space()
	return strings.HasPrefix(p.s[p.i:], prefix)
}

func (p *textParser) expect(c byte) error {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != c {
		return fmt.Errorf("expected %q at offset %d", c, p.i)
	}
	p.i++
	return nil
}

// word reads an identifier-like token (keywords, numbers) without consuming it.
func (p *textParser) word() string {
	p.space()
	j := p.i
	for j < len(p.s) && (isAlnum(p.s[j]) || strings.IndexByte("_.+-", p.s[j]) >= 0) {
		j++
	}
	return p.s[p.i:j]
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

var typeKeywords = map[string]string{"boolean": "b", "byte": "y", "int16": "n", "uint16": "q", "int32": "i",
	"uint32": "u", "int64": "x", "uint64": "t", "double": "d", "string": "s", "objectpath": "o", "signature": "g", "handle": "h"}

func (p *textParser) value() (*node, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '@':
		p.i++
		j := p.i
		for j < len(p.s) && strings.IndexByte(" \t\n", p.s[j]) < 0 {
			j++
		}
		t, err := ParseType(p.s[p.i:j])
		if err != nil {
			return nil, err
		}
		p.i = j
		n, err := p.value()
		if err != nil {
			return nil, err
		}
		n.typ = t
		return n, nil
	case c == '\'' || c == '"':
		s, err := p.str()
		return &node{kind: 's', text: s}, err
	case c == 'b' && p.i+1 < len(p.s) && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"'):
		p.i++
		s, err := p.str()
		return &node{kind: 'y', text: s}, err
	case c == '[':
		p.i++
		n := &node{kind: '['}
		return n, p.list(']', func() error {
			k, err := p.value()
			n.kids = append(n.kids, k)
			return err
		})
	case c == '(':
		p.i++
		n := &node{kind: '('}
		return n, p.list(')', func() error {
			k, err := p.value()
			n.kids = append(n.kids, k)
			return err
		})
	case c == '{':
		p.i++
		n := &node{kind: '{'}
		return n, p.list('}', func() error {
			k, err := p.value()
			if err != nil {
				return err
			}
			if err := p.expect(':'); err != nil {
				return err
			}
			v, err := p.value()
			n.kids = append(n.kids, &node{kind: 'e', kids: []*node{k, v}})
			return err
		})
	case c == '<':
		p.i++
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		return &node{kind: '<', kids: []*node{k}}, p.expect('>')
	}
	w := p.word()
	switch {
	case w == "true" || w == "false":
		p.i += len(w)
		return &node{kind: 'b', text: w}, nil
	case w == "nothing":
		p.i += len(w)
		return &node{kind: 'm'}, nil
	case w == "just":
		p.i += len(w)
		k, err := p.value()
		return &node{kind: 'm', valid: true, kids: []*node{k}}, err
	case typeKeywords[w] != "":
		p.i += len(w)
		n, err := p.value()
		if err != nil {
			return nil, err
		}
		n.typ = MustType(typeKeywords[w])
		return n, nil
	case w != "" && (w[0] >= '0' && w[0] <= '9' || w[0] == '-' || w[0] == '+' || w[0] == '.'):
		p.i += len(w)
		return &node{kind: 'n', text: w}, nil
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i:], p.i)
}

// list reads comma-separated items up to end (the opener already read).
func (p *textParser) list(end byte, item func() error) error {
	if p.peek(string(end)) {
		p.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			if p.peek(string(end)) { // a tuple's trailing comma: (1,)
				p.i++
				return nil
			}
			continue
		}
		return p.expect(end)
	}
}

// str reads a quoted string with GLib's escapes.
func (p *textParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u', 'U':
				n := 4
				if e == 'U' {
					n = 8
				}
				if p.i+n >= len(p.s) {
					return "", errors.New("short unicode escape")
				}
				r, err := strconv.ParseUint(p.s[p.i+1:p.i+1+n], 16, 32)
				if err != nil {
					return "", fmt.Errorf("bad unicode escape: %w", err)
				}
				b.WriteRune(rune(r))
				p.i += n
			default:
				b.WriteByte(e)
			}
			p.i++
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errors.New("unterminated string")
}

// build gives the node a type (want, its annotation, or inferred) and
// the value in the codec's Go representation.
func (n *node) build(want *Type) (*Type, any, error) {
	if n.typ != nil {
		if want != nil && want.sig != n.typ.sig {
			return nil, nil, fmt.Errorf("value of type %s where %s is wanted", n.typ.sig, want.sig)
		}
		want = n.typ
	}
	if want == nil {
		t, err := n.infer()
		if err != nil {
			return nil, nil, err
		}
		want = t
	}
	v, err := n.valueAs(want)
	return want, v, err
}

// infer is the type GLib gives a value without an annotation.
func (n *node) infer() (*Type, error) {
	if n.typ != nil {
		return n.typ, nil
	}
	switch n.kind {
	case 's':
		return MustType("s"), nil
	case 'b':
		return MustType("b"), nil
	case 'y':
		return MustType("ay"), nil
	case 'n':
		if strings.ContainsAny(n.text, ".eE") && !strings.HasPrefix(n.text, "0x") {
			return MustType("d"), nil
		}
		return MustType("i"), nil
	case '<':
		return MustType("v"), nil
	case 'm':
		if !n.valid {
			return nil, errors.New("cannot infer the type of nothing: annotate it, as @ms nothing")
		}
		e, err := n.kids[0].infer()
		if err != nil {
			return nil, err
		}
		return ParseType("m" + e.sig)
	case '(':
		sig := "("
		for _, k := range n.kids {
			t, err := k.infer()
			if err != nil {
				return nil, err
			}
			sig += t.sig
		}
		return ParseType(sig + ")")
	case '[', '{':
		if len(n.kids) == 0 {
			return nil, errors.New("cannot infer the type of an empty container: annotate it, as @as []")
		}
		if n.kind == '{' {
			kt, err := n.kids[0].kids[0].infer()
			if err != nil {
				return nil, err
			}
			vt, err := n.kids[0].kids[1].infer()
			if err != nil {
				return nil, err
			}
			return ParseType("a{" + kt.sig + vt.sig + "}")
		}
		for _, k := range n.kids {
			// The first element whose type is known decides: [nothing, just 1].
			if t, err := k.infer(); err == nil {
				return ParseType("a" + t.sig)
			}
		}
		return nil, errors.New("cannot infer the array's element type")
	}
	return nil, fmt.Errorf("cannot infer a type for %q", n.text)
}

func (n *node) valueAs(t *Type) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("value does not fit type %s", t.sig) }
	switch t.Kind {
	case 's', 'o', 'g':
		if n.kind != 's' {
			return bad()
		}
		return n.text, nil
	case 'b':
		if n.kind != 'b' {
			return bad()
		}
		return n.text == "true", nil
	case 'y', 'n', 'q', 'i', 'h', 'u', 'x', 't':
		if n.kind != 'n' {
			return bad()
		}
		return parseInt(n.text, t.Kind)
	case 'd':
		if n.kind != 'n' {
			return bad()
		}
		f, err := strconv.ParseFloat(n.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q: %w", n.text, err)
		}
		return f, nil
	case 'v':
		if n.kind != '<' {
			return bad()
		}
		et, ev, err := n.kids[0].build(nil)
		if err != nil {
			return nil, err
		}
		return Variant{Type: et, Value: ev}, nil
	case 'm':
		if n.kind != 'm' {
			// GLib takes a bare value where a maybe is wanted as just it.
			v, err := n.valueAs(t.Elem)
			return Maybe{Valid: true, Value: v}, err
		}
		if !n.valid {
			return Maybe{}, nil
		}
		v, err := n.kids[0].valueAs(t.Elem)
		return Maybe{Valid: true, Value: v}, err
	case 'a':
		if t.Elem.Kind == 'y' && n.kind == 'y' {
			return append([]byte(n.text), 0), nil
		}
		if n.kind != '[' && !(n.kind == '{' && t.Elem.Kind == '{') {
			return bad()
		}
		var out []any
		var bs []byte
		for _, k := range n.kids {
			v, err := k.valueAs(t.Elem)
			if err != nil {
				return nil, err
			}
			if t.Elem.Kind == 'y' {
				bs = append(bs, v.(uint8))
			}
			out = append(out, v)
		}
		if t.Elem.Kind == 'y' {
			if bs == nil {
				bs = []byte{}
			}
			return bs, nil
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case '(':
		if n.kind != '(' || len(n.kids) != len(t.Fields) {
			return bad()
		}
		out := make([]any, len(n.kids))
		for i, k := range n.kids {
			v, err := k.valueAs(t.Fields[i])
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case '{':
		e := n
		if n.kind == '{' && len(n.kids) == 1 {
			e = n.kids[0] // {k: v} where one entry is wanted
		}
		if e.kind != 'e' {
			return bad()
		}
		k, err := e.kids[0].valueAs(t.Fields[0])
		if err != nil {
			return nil, err
		}
		v, err := e.kids[1].valueAs(t.Fields[1])
		if err != nil {
			return nil, err
		}
		return []any{k, v}, nil
	}
	return bad()
}

func parseInt(s string, kind byte) (any, error) {
	bits := map[byte]int{'y': 8, 'n': 16, 'q': 16, 'i': 32, 'h': 32, 'u': 32, 'x': 64, 't': 64}[kind]
	if strings.IndexByte("yqut", kind) >= 0 {
		u, err := strconv.ParseUint(s, 0, bits)
		if err != nil {
			return nil, fmt.Errorf("bad number %q for type %c: %w", s, kind, err)
		}
		switch kind {
		case 'y':
			return uint8(u), nil
		case 'q':
			return uint16(u), nil
		case 'u':
			return uint32(u), nil
		}
		return u, nil
	}
	i, err := strconv.ParseInt(s, 0, bits)
	if err != nil {
		return nil, fmt.Errorf("bad number %q for type %c: %w", s, kind, err)
	}
	switch kind {
	case 'n':
		return int16(i), nil
	case 'i', 'h':
		if i < math.MinInt32 || i > math.MaxInt32 {
			return nil, fmt.Errorf("number %s out of range", s)
		}
		return int32(i), nil
	}
	return i, nil
}
