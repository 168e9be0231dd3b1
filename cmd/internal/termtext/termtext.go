// Package termtext makes text that came from a repository (ref names,
// paths in a tree, commit subjects and bodies, metadata, AppStream data)
// safe to print on a terminal: a control character there could move the
// cursor, rewrite what was printed before it, set the window title or
// hide the permissions an app asks for (flatpak's CVE-2023-28101).
//
// Escaped: C0 controls as \xHH (but tab and newline in Block), DEL as
// \x7f, C1 controls U+0080–U+009F as \u0080–\u009f, bidirectional
// formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
// U+2066–U+2069), which reorder the text around them, and the line and
// paragraph separators U+2028 and U+2029 as \uHHHH, and each byte of
// invalid UTF-8 as \xHH. The escapes are for the eye: a backslash is not
// escaped, so text that already holds "\x1b" prints as one holding ESC
// does. --json output is exact: encoding/json writes C0 controls as
// \u001b and invalid UTF-8 as U+FFFD, and JSON escapes the C1 and
// bidirectional characters it leaves.
package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Line escapes text printed as one line or one field of a line: tabs and
// newlines too, so that it can neither forge lines nor columns.
func Line(s string) string { return escape(s, false) }

// Block escapes text printed as lines of its own (a commit body, a
// metadata file): newlines and tabs stay.
func Block(s string) string { return escape(s, true) }

func escape(s string, block bool) string {
	if printableASCII(s, block) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r, block) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r, block):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// printableASCII is the common case, returned as it is.
func printableASCII(s string, block bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c >= 0x7f) && !(block && (c == '\n' || c == '\t')) {
			return false
		}
	}
	return true
}

// JSON escapes, in encoded JSON, the characters of a string encoding/json
// leaves as they are but a terminal would act on (C1 controls,
// bidirectional formatting): \uHHHH means the same character in JSON, and
// outside strings no such character can stand.
func JSON(b []byte) []byte {
	if printableASCII(string(b), true) {
		return b
	}
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x80 && unsafe(r, true) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

func unsafe(r rune, block bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return !block
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
