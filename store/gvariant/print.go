package gvariant

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Print formats a value in GVariant text form with type annotations where
// the text alone would not give the type, as GLib's g_variant_print does
// (and so as `ostree show` and `ostree ls -X` print).
func Print(t *Type, v any) string {
	var b strings.Builder
	print1(&b, t, v, true)
	return b.String()
}

func quote(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// bytestring reports whether an ay prints as b'...': NUL-terminated text.
func bytestring(bs []byte) bool {
	n := len(bs)
	if n == 0 || bs[n-1] != 0 {
		return false
	}
	s := string(bs[:n-1])
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

var annotations = map[byte]string{'y': "byte ", 'n': "int16 ", 'q': "uint16 ", 'u': "uint32 ",
	'x': "int64 ", 't': "uint64 ", 'h': "handle ", 'o': "objectpath ", 'g': "signature "}

func print1(b *strings.Builder, t *Type, v any, annotate bool) {
	if annotate {
		b.WriteString(annotations[t.Kind])
	}
	switch t.Kind {
	case 's', 'o', 'g':
		b.WriteString(quote(v.(string)))
	case 'b':
		b.WriteString(strconv.FormatBool(v.(bool)))
	case 'y':
		fmt.Fprintf(b, "0x%02x", v)
	case 'd':
		s := strconv.FormatFloat(v.(float64), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnI") {
			s += ".0"
		}
		b.WriteString(s)
	case 'n', 'q', 'i', 'h', 'u', 'x', 't':
		fmt.Fprintf(b, "%v", v)
	case 'v':
		x := v.(Variant)
		b.WriteByte('<')
		print1(b, x.Type, x.Value, true)
		b.WriteByte('>')
	case 'm':
		x := v.(Maybe)
		if !x.Valid {
			if annotate {
				b.WriteString("@" + t.sig + " ")
			}
			b.WriteString("nothing")
			return
		}
		b.WriteString("just ")
		print1(b, t.Elem, x.Value, annotate)
	case 'a':
		printArray(b, t, v, annotate)
	case '(', '{':
		items := v.([]any)
		open, sep, close := "(", ", ", ")"
		if t.Kind == '{' {
			open, sep, close = "{", ": ", "}"
		}
		b.WriteString(open)
		for i, it := range items {
			if i > 0 {
				b.WriteString(sep)
			}
			print1(b, t.Fields[i], it, annotate)
		}
		if t.Kind == '(' && len(items) == 1 {
			b.WriteByte(',')
		}
		b.WriteString(close)
	}
}

// printArray prints an array; only its first element carries annotations,
// since the rest must have the same type.
func printArray(b *strings.Builder, t *Type, v any, annotate bool) {
	var items []any
	if t.Elem.Kind == 'y' {
		bs := v.([]byte)
		if bytestring(bs) {
			b.WriteString("b" + quote(string(bs[:len(bs)-1])))
			return
		}
		for _, x := range bs {
			items = append(items, x)
		}
	} else {
		items = v.([]any)
	}
	if len(items) == 0 {
		if annotate {
			b.WriteString("@" + t.sig + " ")
		}
		b.WriteString("[]")
		return
	}
	dict := t.Elem.Kind == '{'
	if dict {
		b.WriteByte('{')
	} else {
		b.WriteByte('[')
	}
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if dict {
			kv := it.([]any)
			print1(b, t.Elem.Fields[0], kv[0], annotate)
			b.WriteString(": ")
			print1(b, t.Elem.Fields[1], kv[1], annotate)
		} else {
			print1(b, t.Elem, it, annotate)
		}
		annotate = false
	}
	if dict {
		b.WriteByte('}')
	} else {
		b.WriteByte(']')
	}
}
