package keyfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseStrict reads a key file that another program will read after
// arbor, such as a desktop entry or a D-Bus service file that arbor
// rewrites and exports: it accepts only what every reader of such files
// (GLib, KDE's KConfig, dbus-daemon) agrees on, so that what arbor checks
// is what they run. On top of Parse it refuses invalid UTF-8, control
// characters (but tabs, and CR before LF), a group or a key given twice,
// group names with brackets, key names other than [A-Za-z0-9-]+ with an
// optional [locale] (which rules out KConfig's [$e] expansion flags), and
// escapes other than \s \n \t \r \\ \;.
func ParseStrict(b []byte) (*File, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("line %d: not UTF-8", 1+bytes.Count(b[:invalidAt(b)], []byte("\n")))
	}
	for i, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && !(c == '\r' && i+1 < len(b) && b[i+1] == '\n') || c == 0x7f {
			return nil, fmt.Errorf("line %d: control character 0x%02x", 1+bytes.Count(b[:i], []byte("\n")), c)
		}
	}
	for i, r := range string(b) {
		if r >= 0x80 && r <= 0x9f {
			return nil, fmt.Errorf("line %d: control character U+%04X", 1+strings.Count(string(b[:i]), "\n"), r)
		}
	}
	f, err := ParseBytes(b)
	if err != nil {
		return nil, err
	}
	groups := map[string]bool{}
	for _, g := range f.groups {
		if groups[g.name] {
			return nil, fmt.Errorf("group [%s] given twice", g.name)
		}
		groups[g.name] = true
		if strings.ContainsAny(g.name, "[]") {
			return nil, fmt.Errorf("group [%s]: brackets in a group name", g.name)
		}
		keys := map[string]bool{}
		for _, l := range g.lines {
			if l.key == "" {
				continue
			}
			if !validKey(l.key) {
				return nil, fmt.Errorf("[%s] %q: not a key name ([A-Za-z0-9-]+ and an optional [locale])", g.name, l.key)
			}
			if keys[l.key] {
				return nil, fmt.Errorf("[%s] %s given twice", g.name, l.key)
			}
			keys[l.key] = true
			if err := checkEscapes(l.value); err != nil {
				return nil, fmt.Errorf("[%s] %s: %w", g.name, l.key, err)
			}
		}
	}
	return f, nil
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// validKey is the desktop entry specification's key name, with a locale.
func validKey(k string) bool {
	name, locale, localized := strings.Cut(k, "[")
	if name == "" || strings.TrimFunc(name, func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
	}) != "" {
		return false
	}
	if !localized {
		return true
	}
	locale, ok := strings.CutSuffix(locale, "]")
	return ok && locale != "" && strings.TrimFunc(locale, func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.@-", r)
	}) == ""
}

// checkEscapes refuses what GLib refuses to unescape.
func checkEscapes(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		if i+1 == len(v) {
			return fmt.Errorf("value ends in a backslash")
		}
		i++
		if !strings.ContainsRune(`sntr\;`, rune(v[i])) {
			return fmt.Errorf(`invalid escape \%c`, v[i])
		}
	}
	return nil
}

// BaseKey is a key without its [locale].
func BaseKey(k string) string {
	name, _, _ := strings.Cut(k, "[")
	return name
}
