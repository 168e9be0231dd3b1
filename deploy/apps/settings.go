package apps

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/deploy/history"
	"arbor/store"
)

// The installation's settings live in its repository's config, under
// flatpak's keys, so that either tool reads what the other set.
const settingsGroup = "core"

// settingKey is the config key of a setting `config` reads and sets:
// flatpak's.
func settingKey(name string) (string, error) {
	switch name {
	case "languages", "extra-languages", "masked", "pinned":
		return "xa." + name, nil
	}
	return "", fmt.Errorf("unknown setting %q: the settings are languages, extra-languages, masked and pinned", name)
}

// SettingNames are the settings, in the order `config --list` prints
// them.
func SettingNames() []string { return []string{"languages", "extra-languages", "masked", "pinned"} }

// Setting is a setting's value, "" when unset.
func (m *Manager) Setting(name string) (string, error) {
	key, err := settingKey(name)
	if err != nil {
		return "", err
	}
	v, _ := m.Repo.Config().Get(settingsGroup, key)
	return v, nil
}

// SetSetting sets (or, with value "", unsets) a setting, recorded as
// config.
func (m *Manager) SetSetting(ctx context.Context, name, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key, err := settingKey(name)
	if err != nil {
		return err
	}
	err = m.Repo.EditConfig(func(f store.ConfigFile) error {
		if value == "" {
			if f.HasGroup(settingsGroup) {
				f.Delete(settingsGroup, key)
			}
			return nil
		}
		f.Set(settingsGroup, key, value)
		return nil
	})
	return m.record(history.Entry{Op: "config", Ref: name}, err)
}

// Patterns is a pattern list setting (masked, pinned), in its order.
func (m *Manager) Patterns(name string) ([]string, error) {
	v, err := m.Setting(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// EditPatterns adds patterns to a list setting (or removes them), each
// checked first.
func (m *Manager) EditPatterns(ctx context.Context, name string, patterns []string, remove bool) error {
	have, err := m.Patterns(name)
	if err != nil {
		return err
	}
	for _, p := range patterns {
		if err := CheckPattern(p); err != nil {
			return err
		}
		switch i := slices.Index(have, p); {
		case remove && i < 0:
			return fmt.Errorf("%s is not %s", p, name)
		case remove:
			have = slices.Delete(have, i, i+1)
		case i < 0:
			have = append(have, p)
		}
	}
	sort.Strings(have)
	v := strings.Join(have, ";")
	if v != "" {
		v += ";"
	}
	return m.SetSetting(ctx, name, v)
}

// CheckPattern refuses what is not a ref pattern: [KIND/]ID[/ARCH[/BRANCH]],
// each part a glob.
func CheckPattern(p string) error {
	s := p
	if k, rest, ok := strings.Cut(s, "/"); ok && (flatpak.Kind(k) == flatpak.App || flatpak.Kind(k) == flatpak.Runtime) {
		s = rest
	}
	parts := strings.Split(s, "/")
	if len(parts) > 3 || parts[0] == "" {
		return fmt.Errorf("invalid pattern %q: want [app/|runtime/]ID[/ARCH[/BRANCH]]", p)
	}
	for _, part := range parts {
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Errorf("invalid pattern %q: %w", p, err)
		}
	}
	return nil
}

// MatchPattern says whether ref matches a pattern; empty or missing
// parts match anything.
func MatchPattern(p string, ref flatpak.Ref) bool {
	s := p
	if k, rest, ok := strings.Cut(s, "/"); ok && (flatpak.Kind(k) == flatpak.App || flatpak.Kind(k) == flatpak.Runtime) {
		if flatpak.Kind(k) != ref.Kind {
			return false
		}
		s = rest
	}
	parts := strings.Split(s, "/")
	for i, have := range []string{ref.ID, ref.Arch, ref.Branch} {
		if i >= len(parts) || parts[i] == "" {
			continue
		}
		if ok, err := path.Match(parts[i], have); err != nil || !ok {
			return false
		}
	}
	return true
}

// matching is the first of a list setting's patterns ref matches.
func (m *Manager) matching(name string, ref flatpak.Ref) (string, bool) {
	ps, err := m.Patterns(name)
	if err != nil {
		return "", false
	}
	for _, p := range ps {
		if MatchPattern(p, ref) {
			return p, true
		}
	}
	return "", false
}

// MakeCurrent makes an installed branch of an app the current one, as
// flatpak's make-current: `run ID` starts it, the desktop shows it.
func (m *Manager) MakeCurrent(ctx context.Context, id, arch, branch string) (flatpak.Ref, error) {
	if err := ctx.Err(); err != nil {
		return flatpak.Ref{}, err
	}
	installed, err := m.In.InstalledOf(flatpak.App)
	if err != nil {
		return flatpak.Ref{}, err
	}
	ref, err := flatpak.Complete(id+"/"+arch+"/"+branch, flatpak.App, installed)
	if err != nil {
		return flatpak.Ref{}, err
	}
	exe, err := m.arbor()
	if err != nil {
		return flatpak.Ref{}, err
	}
	err = commits.MakeCurrent(m.In, ref, exe)
	return ref, m.record(history.Entry{Op: "make-current", Ref: ref.String()}, err)
}
