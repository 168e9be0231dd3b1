package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/permissions"
)

// withPermissions wraps a command that talks to the permission store.
func (a *app) withPermissions(run func(cmd *cobra.Command, args []string, s *permissions.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := permissions.Connect(cmd.Context())
		if err != nil {
			return fmt.Errorf("the permission store: %w", err)
		}
		defer s.Close()
		return run(cmd, args, s)
	}
}

func (a *app) printEntries(es []permissions.Entry) error {
	if a.json {
		if es == nil {
			es = []permissions.Entry{}
		}
		return a.printJSON(es)
	}
	for _, e := range es {
		fmt.Fprintf(a.Stdout, "%s\t%s\t%s\t%s\t%s\n", termtext.Line(e.Table), termtext.Line(e.ID), termtext.Line(e.App),
			termtext.Line(strings.Join(e.Permissions, ",")), termtext.Line(e.Data))
	}
	return nil
}

func (a *app) permissionCmds() []*cobra.Command {
	list := &cobra.Command{
		Use:   "permission-list [--json] [TABLE [ID]]",
		Short: "List what the desktop's permission store lets apps do: table, object, app, permissions, data",
		Example: `  arbor permission-list
  arbor permission-list notifications`,
		Args: cobra.MaximumNArgs(2),
		RunE: a.withPermissions(func(cmd *cobra.Command, args []string, s *permissions.Store) error {
			if len(args) == 2 {
				es, err := s.Lookup(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				return a.printEntries(es)
			}
			es, err := s.All(cmd.Context(), args, "")
			if err != nil {
				return err
			}
			return a.printEntries(es)
		}),
	}
	show := &cobra.Command{
		Use:     "permission-show [--json] APP",
		Short:   "Show what the permission store lets one app do",
		Example: `  arbor permission-show org.example.Hello`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withPermissions(func(cmd *cobra.Command, args []string, s *permissions.Store) error {
			es, err := s.All(cmd.Context(), nil, args[0])
			if err != nil {
				return err
			}
			return a.printEntries(es)
		}),
	}
	set := &cobra.Command{
		Use:     "permission-set TABLE ID APP [PERMISSION...]",
		Short:   "Set what an app may do on one object of a permission store table",
		Example: `  arbor permission-set notifications notification org.example.Hello yes`,
		Args:    cobra.MinimumNArgs(3),
		RunE: a.withPermissions(func(cmd *cobra.Command, args []string, s *permissions.Store) error {
			return s.Set(cmd.Context(), args[0], args[1], args[2], args[3:])
		}),
	}
	remove := &cobra.Command{
		Use:     "permission-remove TABLE ID [APP]",
		Short:   "Remove an object's entry from a permission store table, or one app's permissions on it",
		Example: `  arbor permission-remove notifications notification org.example.Hello`,
		Args:    cobra.RangeArgs(2, 3),
		RunE: a.withPermissions(func(cmd *cobra.Command, args []string, s *permissions.Store) error {
			app := ""
			if len(args) == 3 {
				app = args[2]
			}
			return s.Remove(cmd.Context(), args[0], args[1], app)
		}),
	}
	reset := &cobra.Command{
		Use:     "permission-reset APP",
		Short:   "Remove every permission the permission store gives an app",
		Example: `  arbor permission-reset org.example.Hello`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withPermissions(func(cmd *cobra.Command, args []string, s *permissions.Store) error {
			_, err := s.Reset(cmd.Context(), args[0])
			return err
		}),
	}
	for _, c := range []*cobra.Command{list, show} {
		a.jsonFlag(c)
	}
	return []*cobra.Command{list, show, set, remove, reset}
}
