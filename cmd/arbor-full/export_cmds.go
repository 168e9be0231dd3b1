package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"arbor/store"
	"arbor/store/atomic"
)

// tarFlags are commit's options for tar=ARCHIVE trees.
type tarFlags struct {
	autocreate bool
	filter     string
	skipList   string
}

func (t *tarFlags) flags(f *pflag.FlagSet) {
	f.BoolVar(&t.autocreate, "tar-autocreate-parents", false, "make the parent directories an archive's entries lack (mode 0755)")
	f.StringVar(&t.filter, "tar-pathname-filter", "", "REGEX,REPLACEMENT rewriting each archive entry's path")
	f.StringVar(&t.skipList, "skip-list", "", "file of paths (one a line, /usr/bin/x) to leave out of the commit")
}

// tarTreeSource is the source of --tree=tar=ARCHIVE ("-": standard input).
func tarTreeSource(cmd *cobra.Command, archive string, t tarFlags) (store.TreeSource, error) {
	src := store.TreeSource{Tar: archive, Options: store.TarOptions{AutocreateParents: t.autocreate}}
	if archive == "" {
		return src, errors.New("no archive given")
	}
	if archive == "-" {
		src.TarReader = cmd.InOrStdin()
	}
	if t.filter != "" {
		f, err := store.ParsePathFilter(t.filter)
		if err != nil {
			return src, fmt.Errorf("--tar-pathname-filter: %w", err)
		}
		src.Options.PathFilter = f
	}
	return src, nil
}

// addSkipList adds the paths of a --skip-list file to opts.Skip.
func addSkipList(opts *store.CommitOptions, file string) error {
	if file == "" {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--skip-list: %w", err)
	}
	defer f.Close()
	if opts.Skip == nil {
		opts.Skip = map[string]bool{}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p := strings.TrimSpace(sc.Text()); p != "" {
			opts.Skip[p] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--skip-list=%s: %w", file, err)
	}
	return nil
}

func (a *app) exportCmd() *cobra.Command {
	var output, subpath, prefix string
	var noXattrs bool
	c := &cobra.Command{
		Use:     "export [flags] REV",
		Short:   "Write a commit's tree as a tar archive",
		Example: `  arbor --repo=repo export main --subpath=/usr --prefix=usr/ -o usr.tar`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, sum, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			opts := store.ExportOptions{Subpath: subpath, Prefix: prefix, NoXattrs: noXattrs}
			if output == "" || output == "-" {
				if f, ok := a.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("not writing binary archive to a terminal; use --output")
				}
				return r.ExportTar(cmd.Context(), sum, a.Stdout, opts)
			}
			return atomic.WriteFileFrom(output, 0o644, false, func(w io.Writer) error {
				return r.ExportTar(cmd.Context(), sum, w, opts)
			})
		},
	}
	f := c.Flags()
	f.StringVarP(&output, "output", "o", "", "archive to write (default standard output)")
	f.StringVar(&subpath, "subpath", "", "export only this path of the commit")
	f.StringVar(&prefix, "prefix", "", "prepend this to every name in the archive")
	f.BoolVar(&noXattrs, "no-xattrs", false, "leave extended attributes out")
	return c
}
