package exports

import "strings"

// kind is how an exported file is made from the app's.
type kind int

const (
	copied         kind = iota // the bytes as they are (icons, AppStream)
	desktopEntry               // rewritten and validated
	dbusService                // rebuilt from Name and Exec
	searchProvider             // rebuilt, disabled by default
)

// rule allows files in one directory of the export tree: those ending in
// one of exts and named in the app id's namespace.
type rule struct {
	dir     string
	deep    bool // and in its subdirectories
	exts    []string
	kind    kind
	busName bool // the name without its extension must be a bus name under the id, exactly
}

// rules are what is exported, in the order they are made: services first
// (a desktop file may be D-Bus activatable only through one of them),
// then desktop files (which search providers name). Anything else in the
// export tree (mime types, which nothing here compiles; krunner plugins;
// systemd units, which flatpak does not export either; binaries) is not
// exported.
var rules = []rule{
	{dir: "share/dbus-1/services", exts: []string{".service"}, kind: dbusService, busName: true},
	{dir: "share/applications", exts: []string{".desktop"}, kind: desktopEntry},
	{dir: "share/gnome-shell/search-providers", exts: []string{".ini"}, kind: searchProvider},
	{dir: "share/icons", deep: true, exts: []string{".png", ".svg", ".svgz", ".ico"}, kind: copied},
	{dir: "share/metainfo", exts: []string{".xml"}, kind: copied},
	{dir: "share/metainfo/releases", exts: []string{".releases.xml"}, kind: copied},
}

// Allowed reports whether the file at rel (slash-separated, under the
// export tree) is exported for the app id.
func Allowed(rel, id string) bool {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return false
	}
	r, ok := ruleFor(rel[:i])
	return ok && r.allows(rel[i+1:], id)
}

// ruleFor finds the rule of a directory of the export tree.
func ruleFor(dir string) (rule, bool) {
	if i, ok := ruleIndex(dir); ok {
		return rules[i], true
	}
	return rule{}, false
}

func ruleIndex(dir string) (int, bool) {
	for i, r := range rules {
		if dir == r.dir || r.deep && strings.HasPrefix(dir, r.dir+"/") {
			return i, true
		}
	}
	return 0, false
}

// leadsToRule reports whether dir is a rule's directory or one on the way
// to it (share, share/dbus-1).
func leadsToRule(dir string) bool {
	for _, r := range rules {
		if r.dir == dir || strings.HasPrefix(r.dir, dir+"/") {
			return true
		}
	}
	return false
}

func (r rule) allows(name, id string) bool {
	for _, ext := range r.exts {
		if base, ok := strings.CutSuffix(name, ext); ok {
			return underID(base, id, r.busName)
		}
	}
	return false
}

// underID is flatpak's rule for exported names: the id, then more
// elements of its namespace (id.Foo.Bar); unless exact, then anything
// that cannot continue the id's last element (id-symbolic, id.extra),
// but not idOther.
func underID(name, id string, exact bool) bool {
	rest, ok := strings.CutPrefix(name, id)
	if !ok {
		return false
	}
	for len(rest) >= 2 && rest[0] == '.' && nameStart(rest[1]) {
		j := 2
		for j < len(rest) && (nameStart(rest[j]) || rest[j] >= '0' && rest[j] <= '9') {
			j++
		}
		rest = rest[j:]
	}
	if exact {
		return rest == ""
	}
	return rest == "" || rest[0] == '.' || !(nameStart(rest[0]) && rest[0] != '-' || rest[0] >= '0' && rest[0] <= '9')
}

func nameStart(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-'
}
