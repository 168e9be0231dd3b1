package refs

import "strings"

// Listed is a ref that a listing by prefix shows, and the name it is
// shown by.
type Listed struct{ Name, Shown string }

// ListPrefixes are the refs of names (sorted) that ostree's refs PREFIX
// shows, in its order: a prefix that is a ref shows it; one that is a
// directory of refs (or a remote, REMOTE: or flatpak's REMOTE:.) shows
// the refs below it without the prefix, keeping a remote's name, or by
// their full names with full.
func ListPrefixes(names, prefixes []string, full bool) []Listed {
	var out []Listed
	for _, p := range prefixes {
		p = strings.TrimSuffix(p, "/")
		if rm, ok := strings.CutSuffix(p, ":."); ok {
			p = rm + ":"
		}
		for _, name := range names {
			switch {
			case name == p:
				out = append(out, Listed{name, name})
			case strings.HasPrefix(name, p+"/") && !full:
				shown := name[len(p)+1:]
				if remote, _, ok := strings.Cut(p, ":"); ok {
					shown = remote + ":" + shown
				}
				out = append(out, Listed{name, shown})
			case strings.HasPrefix(name, p+"/") || strings.HasSuffix(p, ":") && strings.HasPrefix(name, p):
				out = append(out, Listed{name, name})
			}
		}
	}
	return out
}

// MatchPrefix says whether ref name is prefix or below it, by whole
// path components (a remote's name counts as one): what refs --delete
// PREFIX removes.
func MatchPrefix(name, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return name == prefix || strings.HasPrefix(name, prefix+"/") || strings.HasPrefix(name, prefix+":")
}
