package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
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
	c := &cobra.Command{
		Use:   "config (get KEY | set KEY VALUE | unset KEY)",
		Short: "Read and change the repository's config file",
		Example: `  arbor --repo=repo config get core.mode
  arbor --repo=repo config set core.min-free-space-percent 0
  arbor --repo=repo config --group='remote "origin"' unset gpg-verify`,
		Args: cobra.ArbitraryArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
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
		}),
	}
	c.Flags().StringVar(&group, "group", "", "the group (section) KEY is in; KEY is then a plain name")
	return c
}
