package gvariant

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Print formats a value in GVariant text form, as `ostree show` prints
// metadata values.
func Print(t *Type, v any) string {
	var b strings.Builder
	print1(&b, t, v)
	return b.String()
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func print1(b *strings.Builder, t *Type, v any) {
	switch t.Kind {
	case 's', 'o', 'g':
		b.WriteString(quote(v.(string)))
	case 'b':
		b.WriteString(strconv.FormatBool(v.(bool)))
	case 'y':
		fmt.Fprintf(b, "0x%02x", v)
	case 'd':
		b.WriteString(strconv.FormatFloat(v.(float64), 'g', -1, 64))
	case 'n', 'q', 'i', 'h', 'u', 'x', 't':
		fmt.Fprintf(b, "%v", v)
	case 'v':
		x := v.(Variant)
		b.WriteByte('<')
		print1(b, x.Type, x.Value)
		b.WriteByte('>')
	case 'm':
		x := v.(Maybe)
		if !x.Valid {
			b.WriteString("nothing")
			return
		}
		print1(b, t.Elem, x.Value)
	case 'a':
		if t.Elem.Kind == 'y' {
			bs := v.([]byte)
			if n := len(bs); n > 0 && bs[n-1] == 0 && utf8.Valid(bs[:n-1]) && !strings.ContainsRune(string(bs[:n-1]), 0) {
				b.WriteString("b" + quote(string(bs[:n-1])))
				return
			}
			b.WriteByte('[')
			for i, x := range bs {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "0x%02x", x)
			}
			b.WriteByte(']')
			return
		}
		items := v.([]any)
		open, close := "[", "]"
		if t.Elem.Kind == '{' {
			open, close = "{", "}"
		}
		b.WriteString(open)
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			if t.Elem.Kind == '{' {
				kv := it.([]any)
				print1(b, t.Elem.Fields[0], kv[0])
				b.WriteString(": ")
				print1(b, t.Elem.Fields[1], kv[1])
				continue
			}
			print1(b, t.Elem, it)
		}
		b.WriteString(close)
	case '(', '{':
		items := v.([]any)
		b.WriteByte('(')
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			print1(b, t.Fields[i], it)
		}
		if len(items) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	}
}
