package exports

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Launcher is the command line every export starts the app with: arbor
// itself, never a program the app names.
type Launcher struct {
	Arbor  string // absolute path of the arbor binary
	Repo   string // absolute path of the installation's repository
	ID     string // the app's, from its validated ref
	Branch string
}

// check catches a caller's mistake: every word is quoted wherever it
// goes, but an id or branch other than a ref's would start the wrong app.
func (l Launcher) check() error {
	if !filepath.IsAbs(l.Arbor) || !filepath.IsAbs(l.Repo) {
		return fmt.Errorf("launcher: %q and %q must be absolute paths", l.Arbor, l.Repo)
	}
	for _, w := range []string{l.ID, l.Branch} {
		if w == "" || strings.TrimFunc(w, func(r rune) bool {
			return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)
		}) != "" {
			return fmt.Errorf("launcher: %q is not an app id or branch", w)
		}
	}
	return nil
}

// prefix is what comes before the app's id: arbor's options, which no
// word of the app's may add to (run stops reading options at the id).
func (l Launcher) prefix() []string {
	return []string{l.Arbor, "--repo=" + l.Repo, "run", "--branch=" + l.Branch}
}

// Script is exports/bin/ID: a shell script that runs the app with the
// arguments it is given, every word of it quoted for sh.
func (l Launcher) Script() ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\nexec")
	for _, w := range append(l.prefix(), l.ID) {
		b.WriteString(" " + shellQuote(w))
	}
	b.WriteString(" \"$@\"\n")
	return []byte(b.String()), nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// syntax is the reader of an Exec value: a desktop entry's, whose
// launcher expands %-field codes, or a D-Bus service file's, whose does not.
type syntax int

const (
	desktopExec syntax = iota
	dbusExec
)

// fieldCodes are the desktop entry specification's; deprecated ones are
// dropped, as the specification says.
var (
	fieldCodes = map[string]bool{"%f": true, "%F": true, "%u": true, "%U": true, "%i": true, "%c": true, "%k": true}
	deprecated = map[string]bool{"%d": true, "%D": true, "%n": true, "%N": true, "%v": true, "%m": true}
)

// rewriteExec turns an app's Exec value into the launcher's: the app's
// first word becomes --command (run in the sandbox), the others follow
// the id as arguments, field codes kept live only where they stand bare.
func (l Launcher) rewriteExec(old string, syn syntax) (string, error) {
	words, err := splitExec(old)
	if err != nil {
		return "", err
	}
	out := make([]string, 0, len(words)+6)
	for _, w := range l.prefix() {
		out = append(out, ours(w, syn))
	}
	if len(words) > 0 {
		cmd := words[0]
		if syn == desktopExec {
			cmd = decodeCommand(cmd)
		}
		out = append(out, ours("--command="+cmd, syn))
	}
	out = append(out, ours(l.ID, syn))
	for _, w := range words[min(1, len(words)):] {
		switch {
		case syn == dbusExec:
			out = append(out, quote(w))
		case fieldCodes[w]:
			out = append(out, w)
		case deprecated[w]:
		case needsQuotes(w):
			out = append(out, quote(literalPercents(w)))
		default:
			out = append(out, w) // bare, so an embedded field code expands to a quoted word
		}
	}
	return strings.Join(out, " "), nil
}

// checkExec verifies an Exec value as its reader will split it: the
// launcher's words, at most a --command, then the app's id.
func (l Launcher) checkExec(v string, syn syntax) error {
	words, err := splitExec(v)
	if err != nil {
		return err
	}
	word := func(i int) (string, error) {
		if i >= len(words) {
			return "", fmt.Errorf("Exec %q does not name the app %s", v, l.ID)
		}
		if syn == desktopExec {
			return decodeOurs(words[i])
		}
		return words[i], nil
	}
	want := l.prefix()
	for i, w := range want {
		if got, err := word(i); err != nil || got != w {
			return fmt.Errorf("Exec %q does not start with %q", v, strings.Join(want, " "))
		}
	}
	i := len(want)
	if w, err := word(i); err != nil {
		return err
	} else if strings.HasPrefix(w, "--command=") {
		i++
	}
	if w, err := word(i); err != nil || w != l.ID {
		return fmt.Errorf("Exec %q does not name the app %s after the launcher", v, l.ID)
	}
	return nil
}

// ours is a word arbor puts in an Exec value, meant literally.
func ours(w string, syn syntax) string {
	if syn == desktopExec {
		w = strings.ReplaceAll(w, "%", "%%")
	}
	if needsQuotes(w) {
		return quote(w)
	}
	return w
}

// decodeOurs reads back a word of ours: %% is %, and a field code there
// would be expanded by the desktop's launcher, so it is refused.
func decodeOurs(w string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '%' {
			b.WriteByte(w[i])
			continue
		}
		if i+1 == len(w) || w[i+1] != '%' {
			return "", fmt.Errorf("a field code in the launcher's word %q", w)
		}
		b.WriteByte('%')
		i++
	}
	return b.String(), nil
}

// decodeCommand is the program an Exec names: %% means %; any other %
// sequence there is taken as written.
func decodeCommand(w string) string { return strings.ReplaceAll(w, "%%", "%") }

// literalPercents makes every field code in a word that will be quoted
// literal: a launcher that expanded one inside quotes would put its own
// quoting there, which could split the word or end the quotes.
func literalPercents(w string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] == '%' {
			b.WriteString("%%")
			if i+1 < len(w) && w[i+1] == '%' {
				i++
			}
			continue
		}
		b.WriteByte(w[i])
	}
	return b.String()
}

// needsQuotes: anything but letters, digits and -_./:@=+,% is quoted,
// a superset of the specification's reserved characters.
func needsQuotes(w string) bool {
	if w == "" {
		return true
	}
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=+,%", r)) {
			return true
		}
	}
	return false
}

// quote encloses a word in double quotes, escaping " ` $ and \ with a
// backslash, as the desktop entry specification says; GLib and
// dbus-daemon read it back the same.
func quote(w string) string {
	if !needsQuotes(w) {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if strings.IndexByte("\"`$\\", w[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}

var errUnterminated = errors.New("unterminated quote")

// splitExec splits an Exec value into words as GLib's g_shell_parse_argv
// (which desktops use after expanding field codes) and dbus-daemon's copy
// of it do: blanks separate words, '...' is literal, "..." takes \ before
// " ` $ \ and a newline, a bare \ quotes the next character, and a #
// after a space or newline starts a comment. An empty value has no words.
func splitExec(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	end := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n':
			end()
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\n'):
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("Exec %q ends in a backslash", s)
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				in = true
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("Exec %q: %w", s, errUnterminated)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			in = true
			for i++; ; i++ {
				if i == len(s) {
					return nil, fmt.Errorf("Exec %q: %w", s, errUnterminated)
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\`$\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				cur.WriteByte(s[i])
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	end()
	return words, nil
}
