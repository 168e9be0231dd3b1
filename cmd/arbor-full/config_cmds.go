package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/apps"
	"arbor/store"
)

// configKey splits ostree's SECTION.KEY, or takes KEY in --group.
func configKey(group, key string) (string, string, error) {
	if group != "" {
		return group, key, nil
	}
	i := strings.LastIndexByte(key, '.')
	if i <= 0 || i == len(key)-1 {
		return "", "", fmt.Errorf("key %q must be of the form \"sectionname.keyname\" (or give --group)", key)
	}
	return key[:i], key[i+1:], nil
}

func (a *app) configCmd() *cobra.Command {
	var group string
	var fp flatpakConfig
	ostreeRun := a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
		if len(args) == 0 {
			return errors.New("give an operation: get, set or unset")
		}
		op := args[0]
		want := map[string]int{"get": 2, "set": 3, "unset": 2}[op]
		switch {
		case want == 0:
			return fmt.Errorf("unknown config operation %q: use get, set or unset", termtext.Line(op))
		case len(args) > want:
			return errors.New("Too many arguments given") // as ostree says it
		case len(args) < want:
			return fmt.Errorf("config %s needs %d argument(s)", op, want-1)
		}
		g, k, err := configKey(group, args[1])
		if err != nil {
			return err
		}
		switch op {
		case "get":
			v, ok := r.Config().Get(g, k)
			if !ok {
				// glib's words, which ostree prints and scripts match.
				return fmt.Errorf("Key file does not have key “%s” in group “%s”", termtext.Line(k), termtext.Line(g))
			}
			fmt.Fprintln(a.Stdout, termtext.Line(v))
			return nil
		case "set":
			return r.EditConfig(func(f store.ConfigFile) error {
				f.Set(g, k, args[2])
				return nil
			})
		}
		// As ostree: unsetting a key that is not there is no error.
		return r.EditConfig(func(f store.ConfigFile) error {
			if f.HasGroup(g) {
				f.Delete(g, k)
			}
			return nil
		})
	})
	c := &cobra.Command{
		Use:   "config (get KEY | set KEY VALUE | unset KEY) | --list | --get KEY | --set KEY VALUE | --unset KEY",
		Short: "Read and change the repository's config file, or the installation's settings",
		Long: `With get, set and unset, as ostree's config: any key of the repository's
config file, as SECTION.KEY. With --list, --get, --set and --unset, as
flatpak's config: the installation's settings (languages, extra-languages,
masked, pinned).`,
		Example: `  arbor --repo=repo config get core.mode
  arbor --repo=repo config set core.min-free-space-percent 0
  arbor --repo=repo config --group='remote "origin"' unset gpg-verify
  arbor config --set languages "en;de"`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !fp.any() {
				return ostreeRun(cmd, args)
			}
			a.OstreeRepo = false // the installation's, as flatpak's
			return a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
				return a.flatpakConfig(cmd, args, m, fp)
			})(cmd, args)
		},
	}
	c.Flags().StringVar(&group, "group", "", "the group (section) KEY is in; KEY is then a plain name")
	c.Flags().BoolVar(&fp.list, "list", false, "list the installation's settings")
	c.Flags().BoolVar(&fp.get, "get", false, "print the setting KEY")
	c.Flags().BoolVar(&fp.set, "set", false, "set KEY to VALUE")
	c.Flags().BoolVar(&fp.unset, "unset", false, "unset KEY")
	c.MarkFlagsMutuallyExclusive("list", "get", "set", "unset")
	return c
}

// flatpakConfig is which of flatpak's config operations was asked for.
type flatpakConfig struct{ list, get, set, unset bool }

func (f flatpakConfig) any() bool { return f.list || f.get || f.set || f.unset }

func (a *app) flatpakConfig(cmd *cobra.Command, args []string, m *apps.Manager, op flatpakConfig) error {
	want := 1
	switch {
	case op.list:
		want = 0
	case op.set:
		want = 2
	}
	if len(args) != want {
		return fmt.Errorf("config: %d argument(s) expected, got %d", want, len(args))
	}
	switch {
	case op.list:
		for _, name := range apps.SettingNames() {
			v, err := m.Setting(name)
			if err != nil {
				return err
			}
			if v == "" {
				v = "*unset*"
			}
			fmt.Fprintf(a.Stdout, "%s: %s\n", name, termtext.Line(v))
		}
		return nil
	case op.get:
		v, err := m.Setting(args[0])
		if err != nil {
			return err
		}
		if v == "" {
			v = "*unset*"
		}
		fmt.Fprintln(a.Stdout, termtext.Line(v))
		return nil
	case op.set:
		if args[1] == "" {
			return errors.New("config --set: give a value (--unset removes a setting)")
		}
		return m.SetSetting(cmd.Context(), args[0], args[1])
	}
	return m.SetSetting(cmd.Context(), args[0], "")
}

// patternsCmd is mask or pin: flatpak's lists of ref patterns.
func (a *app) patternsCmd(name, setting, short, example string) *cobra.Command {
	var remove bool
	c := &cobra.Command{
		Use:     name + " [--remove] [PATTERN...]",
		Short:   short,
		Example: example,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			if len(args) == 0 {
				if remove {
					return fmt.Errorf("%s --remove: name the patterns to remove", name)
				}
				ps, err := m.Patterns(setting)
				if err != nil {
					return err
				}
				if a.json {
					if ps == nil {
						ps = []string{}
					}
					return a.printJSON(ps)
				}
				if len(ps) == 0 {
					fmt.Fprintf(a.Stdout, "No %s patterns\n", setting)
				}
				for _, p := range ps {
					fmt.Fprintln(a.Stdout, termtext.Line(p))
				}
				return nil
			}
			return m.EditPatterns(cmd.Context(), setting, args, remove)
		}),
	}
	c.Flags().BoolVar(&remove, "remove", false, "remove the patterns")
	a.jsonFlag(c)
	return c
}
