package exports

import (
	"fmt"
	"strconv"
	"strings"

	"arbor/store/keyfile"
)

const searchGroup = "Shell Search Provider"

// rewriteSearchProvider makes the exported form of a GNOME Shell search
// provider: a new file of its known keys, checked (it must name one of
// the app's exported desktop files and a bus name under its id, which
// flatpak does not check), and DefaultDisabled=true, as flatpak sets it,
// so that no search text reaches the app unless the user turns it on.
func rewriteSearchProvider(b []byte, id string, desktops map[string]bool) ([]byte, error) {
	kf, err := keyfile.ParseStrict(b)
	if err != nil {
		return nil, err
	}
	get := func(k string) string { return kf.String(searchGroup, k, "") }
	if d := get("DesktopId"); !desktops[d] {
		return nil, fmt.Errorf("[%s] DesktopId=%q is not a desktop file the app exports", searchGroup, d)
	}
	if bus := get("BusName"); !underID(bus, id, true) {
		return nil, fmt.Errorf("[%s] BusName=%q is not under the app's id %s", searchGroup, bus, id)
	}
	if p := get("ObjectPath"); !objectPath(p) {
		return nil, fmt.Errorf("[%s] ObjectPath=%q is not a D-Bus object path", searchGroup, p)
	}
	out := keyfile.New()
	for _, k := range []string{"DesktopId", "BusName", "ObjectPath"} {
		out.Set(searchGroup, k, get(k))
	}
	if v := get("Version"); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("[%s] Version=%q is not a number", searchGroup, v)
		}
		out.Set(searchGroup, "Version", v)
	}
	out.Set(searchGroup, "DefaultDisabled", "true")
	return out.Bytes(), nil
}

func objectPath(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == "" || strings.TrimFunc(el, func(r rune) bool {
			return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_'
		}) != "" {
			return false
		}
	}
	return true
}
