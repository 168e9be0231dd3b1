// Package keyfile reads and writes the INI-style key files OSTree and
// Flatpak use (repo config, remotes, metadata), keeping the order of groups,
// keys and comments so that a file edited by arbor still reads as written.
package keyfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

type line struct {
	key, value string // key empty for comments and blank lines
	raw        string
}

type group struct {
	name  string
	lines []line
}

// File is a parsed key file.
type File struct {
	head   []line // comments before the first group
	groups []*group
}

// New returns an empty key file.
func New() *File { return &File{} }

// Parse reads a key file.
func Parse(r io.Reader) (*File, error) {
	f := &File{}
	var cur *group
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		t := strings.TrimSpace(raw)
		switch {
		case t == "" || t[0] == '#':
			if cur == nil {
				f.head = append(f.head, line{raw: raw})
			} else {
				cur.lines = append(cur.lines, line{raw: raw})
			}
		case t[0] == '[':
			if !strings.HasSuffix(t, "]") || len(t) < 3 {
				return nil, fmt.Errorf("line %d: bad group header %q", n, t)
			}
			cur = &group{name: t[1 : len(t)-1]}
			f.groups = append(f.groups, cur)
		default:
			eq := strings.IndexByte(t, '=')
			if eq <= 0 || cur == nil {
				return nil, fmt.Errorf("line %d: expected key=value in a group, got %q", n, t)
			}
			cur.lines = append(cur.lines, line{key: strings.TrimSpace(t[:eq]), value: strings.TrimLeft(t[eq+1:], " \t")})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseBytes is Parse over a byte slice.
func ParseBytes(b []byte) (*File, error) { return Parse(bytes.NewReader(b)) }

func (f *File) group(name string) *group {
	for _, g := range f.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

// Groups lists group names in file order.
func (f *File) Groups() []string {
	var out []string
	for _, g := range f.groups {
		out = append(out, g.name)
	}
	return out
}

// HasGroup reports whether the group exists.
func (f *File) HasGroup(name string) bool { return f.group(name) != nil }

// Keys lists a group's keys in file order.
func (f *File) Keys(groupName string) []string {
	g := f.group(groupName)
	if g == nil {
		return nil
	}
	var out []string
	for _, l := range g.lines {
		if l.key != "" {
			out = append(out, l.key)
		}
	}
	return out
}

// Get returns the unescaped value of a key.
func (f *File) Get(groupName, key string) (string, bool) {
	g := f.group(groupName)
	if g == nil {
		return "", false
	}
	for i := len(g.lines) - 1; i >= 0; i-- {
		if g.lines[i].key == key {
			return unescape(g.lines[i].value), true
		}
	}
	return "", false
}

// String returns a value or def when the key is absent.
func (f *File) String(groupName, key, def string) string {
	if v, ok := f.Get(groupName, key); ok {
		return v
	}
	return def
}

// Bool parses a boolean key as GLib does (true/false, 1/0).
func (f *File) Bool(groupName, key string, def bool) (bool, error) {
	v, ok := f.Get(groupName, key)
	if !ok {
		return def, nil
	}
	switch strings.TrimSpace(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return def, fmt.Errorf("[%s] %s=%q is not a boolean", groupName, key, v)
}

// Int parses an integer key.
func (f *File) Int(groupName, key string, def int) (int, error) {
	v, ok := f.Get(groupName, key)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return def, fmt.Errorf("[%s] %s=%q is not an integer", groupName, key, v)
	}
	return n, nil
}

// List splits a ;-separated list value.
func (f *File) List(groupName, key string) []string {
	v, ok := f.Get(groupName, key)
	if !ok {
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ";") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Set sets a key, appending the group and key when they are new.
func (f *File) Set(groupName, key, value string) {
	g := f.group(groupName)
	if g == nil {
		g = &group{name: groupName}
		f.groups = append(f.groups, g)
	}
	for i := range g.lines {
		if g.lines[i].key == key {
			g.lines[i].value = escape(value)
			return
		}
	}
	// Keep trailing blank lines after the new key.
	at := len(g.lines)
	for at > 0 && g.lines[at-1].key == "" && strings.TrimSpace(g.lines[at-1].raw) == "" {
		at--
	}
	g.lines = append(g.lines[:at], append([]line{{key: key, value: escape(value)}}, g.lines[at:]...)...)
}

// SetList sets a ;-terminated list value.
func (f *File) SetList(groupName, key string, vs []string) {
	f.Set(groupName, key, strings.Join(vs, ";")+";")
}

// Delete removes a key.
func (f *File) Delete(groupName, key string) {
	g := f.group(groupName)
	if g == nil {
		return
	}
	out := g.lines[:0]
	for _, l := range g.lines {
		if l.key != key {
			out = append(out, l)
		}
	}
	g.lines = out
}

// DeleteGroup removes a whole group.
func (f *File) DeleteGroup(name string) {
	out := f.groups[:0]
	for _, g := range f.groups {
		if g.name != name {
			out = append(out, g)
		}
	}
	f.groups = out
}

// Bytes serializes the file.
func (f *File) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range f.head {
		b.WriteString(l.raw + "\n")
	}
	for i, g := range f.groups {
		if i > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n\n")) {
			b.WriteString("\n")
		}
		b.WriteString("[" + g.name + "]\n")
		for _, l := range g.lines {
			if l.key == "" {
				b.WriteString(l.raw + "\n")
				continue
			}
			b.WriteString(l.key + "=" + l.value + "\n")
		}
	}
	return b.Bytes()
}

func unescape(s string) string {
	if !strings.ContainsRune(s, '\\') {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == ' ' && i == 0:
			b.WriteString(`\s`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
