package exports

import (
	"fmt"
	"strings"

	"arbor/store/keyfile"
)

const desktopGroup = "Desktop Entry"

// textKeys are the desktop entry keys that may have [locale] variants;
// a variant of any other key (Exec[de], Type[fr]) is dropped, because
// readers that look such variants up (KConfig does) would run or trust it.
var textKeys = map[string]bool{"Name": true, "GenericName": true, "Comment": true, "Keywords": true, "Icon": true}

// dropped says whether a key goes from an exported desktop file: keys
// naming a program on the host (TryExec, or any *Exec or *Script but
// Exec itself, which is rewritten), keys that run the app as another user
// or grant it privileged Wayland protocols, markers only arbor may set,
// and locale variants of keys that are not text.
func dropped(key string) bool {
	base := keyfile.BaseKey(key)
	switch {
	case base != key && !textKeys[base] && !strings.HasPrefix(base, "X-"):
		return true
	case base != "Exec" && (strings.HasSuffix(base, "Exec") || strings.HasSuffix(base, "Script")):
		return true
	case strings.HasPrefix(base, "X-Flatpak"), strings.HasPrefix(base, "X-Arbor"):
		return true
	}
	switch base {
	case "X-KDE-SubstituteUID", "X-KDE-Username", "X-KDE-Wayland-Interfaces":
		return true
	}
	return false
}

// rewriteDesktop makes the exported form of the desktop file id.desktop:
// every group's Exec starts the app through the launcher (flatpak too
// gives every group one), the keys above are dropped, DBusActivatable
// stays only if the app exports the service it would activate, krunner
// plugins start disabled, and X-Arbor names the app.
func (l Launcher) rewriteDesktop(b []byte, id string, services map[string]bool) ([]byte, error) {
	kf, err := keyfile.ParseStrict(b)
	if err != nil {
		return nil, err
	}
	groups := kf.Groups()
	if len(groups) == 0 || groups[0] != desktopGroup {
		return nil, fmt.Errorf("the first group is not [%s]", desktopGroup)
	}
	if t := kf.String(desktopGroup, "Type", ""); t != "Application" {
		return nil, fmt.Errorf("Type=%q: only Application entries are exported", t)
	}
	for _, g := range groups {
		for _, k := range kf.Keys(g) {
			if dropped(k) {
				kf.Delete(g, k)
			}
		}
		old, _ := kf.Get(g, "Exec")
		exec, err := l.rewriteExec(old, desktopExec)
		if err != nil {
			return nil, fmt.Errorf("[%s] %w", g, err)
		}
		kf.Set(g, "Exec", exec)
	}
	if on, err := kf.Bool(desktopGroup, "DBusActivatable", false); err != nil || !on || !services[id] {
		kf.Delete(desktopGroup, "DBusActivatable")
	}
	if on, _ := kf.Bool(desktopGroup, "X-KDE-PluginInfo-EnabledByDefault", false); on {
		kf.Set(desktopGroup, "X-KDE-PluginInfo-EnabledByDefault", "false")
	}
	kf.Set(desktopGroup, "X-Arbor", l.ID)
	out := kf.Bytes()
	if err := l.checkDesktop(out, id, services); err != nil {
		return nil, fmt.Errorf("rewritten, it does not validate: %w", err)
	}
	return out, nil
}

// checkDesktop reads an exported desktop file back as the desktop will.
func (l Launcher) checkDesktop(b []byte, id string, services map[string]bool) error {
	kf, err := keyfile.ParseStrict(b)
	if err != nil {
		return err
	}
	for _, g := range kf.Groups() {
		for _, k := range kf.Keys(g) {
			if dropped(k) && !(g == desktopGroup && k == "X-Arbor") {
				return fmt.Errorf("[%s] has %s", g, k)
			}
		}
		v, ok := kf.Get(g, "Exec")
		if !ok {
			return fmt.Errorf("[%s] has no Exec", g)
		}
		if err := l.checkExec(v, desktopExec); err != nil {
			return fmt.Errorf("[%s] %w", g, err)
		}
	}
	if on, _ := kf.Bool(desktopGroup, "DBusActivatable", false); on && !services[id] {
		return fmt.Errorf("DBusActivatable without an exported service %s", id)
	}
	if v, _ := kf.Get(desktopGroup, "X-Arbor"); v != l.ID {
		return fmt.Errorf("X-Arbor=%q, not %s", v, l.ID)
	}
	return nil
}
