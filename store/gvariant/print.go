package gvariant

import (
	"fmt"
	"math"
	"math/bits"
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

// PrintPlain is Print without type annotations, as GLib prints with
// them off; values inside variants keep theirs.
func PrintPlain(t *Type, v any) string {
	var b strings.Builder
	print1(&b, t, v, false)
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
	dict := t.Elem.Kind == '{'
	if len(items) == 0 {
		if annotate {
			b.WriteString("@" + t.sig + " ")
		}
		if dict {
			b.WriteString("{}") // as GLib prints an empty dictionary
		} else {
			b.WriteString("[]")
		}
		return
	}
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

// Byteswap is v with every number of two bytes or more byte-swapped, as
// GLib's g_variant_byteswap: how tools show data whose numbers are stored
// big-endian (OSTree's timestamps) on a little-endian host.
func Byteswap(t *Type, v any) any {
	switch t.Kind {
	case 'n':
		return int16(bits.ReverseBytes16(uint16(v.(int16))))
	case 'q':
		return bits.ReverseBytes16(v.(uint16))
	case 'i', 'h':
		return int32(bits.ReverseBytes32(uint32(v.(int32))))
	case 'u':
		return bits.ReverseBytes32(v.(uint32))
	case 'x':
		return int64(bits.ReverseBytes64(uint64(v.(int64))))
	case 't':
		return bits.ReverseBytes64(v.(uint64))
	case 'd':
		return math.Float64frombits(bits.ReverseBytes64(math.Float64bits(v.(float64))))
	case 'v':
		x := v.(Variant)
		return Variant{Type: x.Type, Value: Byteswap(x.Type, x.Value)}
	case 'm':
		x := v.(Maybe)
		if x.Valid {
			x.Value = Byteswap(t.Elem, x.Value)
		}
		return x
	case 'a':
		if t.Elem.Kind == 'y' {
			return v
		}
		items := v.([]any)
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = Byteswap(t.Elem, it)
		}
		return out
	case '(', '{':
		items := v.([]any)
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = Byteswap(t.Fields[i], it)
		}
		return out
	}
	return v
}
