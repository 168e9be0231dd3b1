package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"arbor/store/delta"
)

func (a *app) staticDeltaCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "static-delta",
		Short: "List, show and apply static deltas (ostree's format)",
		Example: `  arbor --repo=repo static-delta list
  arbor --repo=repo static-delta show FROM-TO
  arbor --repo=repo static-delta apply-offline /media/update/deltas/xx/yyyy`,
	}
	c.AddCommand(a.deltaListCmd(), a.deltaShowCmd(), a.deltaApplyOfflineCmd())
	return c
}

func (a *app) deltaListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the repository's static deltas, FROM-TO or TO (from scratch)",
		Example: `  arbor --repo=repo static-delta list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			ds, err := delta.List(cmd.Context(), r.Path())
			if err != nil {
				return err
			}
			if len(ds) == 0 {
				fmt.Fprintln(a.Stdout, "(No static deltas)")
			}
			for _, d := range ds {
				fmt.Fprintln(a.Stdout, d)
			}
			return nil
		},
	}
}

func (a *app) deltaShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show DELTA",
		Short:   "Describe a static delta: its commits, parts, fallback objects and ops",
		Example: `  arbor --repo=repo static-delta show $(arbor --repo=repo static-delta list | head -1)`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			d, err := delta.Find(r.Path(), args[0])
			if err != nil {
				return err
			}
			sb, _, err := delta.Read(r.Path(), d)
			if err != nil {
				return err
			}
			w := a.Stdout
			fmt.Fprintf(w, "Delta: %s\n", d)
			fmt.Fprintf(w, "Signed: %s\n", map[bool]string{true: "yes", false: "no"}[sb.Signed])
			if sb.From.IsZero() {
				fmt.Fprintln(w, "From <scratch>")
			} else {
				fmt.Fprintf(w, "From: %s\n", sb.From)
			}
			fmt.Fprintf(w, "To: %s\nEndianness: %s\nTimestamp: %d\nNumber of parents: 0\n", sb.To, map[bool]string{false: "little", true: "big"}[sb.BigEndian], sb.Timestamp)
			var fb, fbu uint64
			for _, f := range sb.Fallbacks {
				fb += f.Size
				fbu += f.Uncompressed
			}
			fmt.Fprintf(w, "Number of fallback entries: %d\nTotal Fallback Size: %s\nTotal Fallback Uncompressed Size: %s\n", len(sb.Fallbacks), sizeWords(fb), sizeWords(fbu))
			fmt.Fprintf(w, "Number of parts: %d\n", len(sb.Parts))
			var total, totalU uint64
			for i, h := range sb.Parts {
				fmt.Fprintf(w, "PartMeta%d: nobjects=%d size=%d usize=%d\n", i, len(h.Objects), h.Size, h.Uncompressed)
				total += h.Size
				totalU += h.Uncompressed
				file, inline := sb.InlinePart(i)
				if !inline {
					if file, err = os.ReadFile(filepath.Join(r.Path(), d.Dir(), fmt.Sprint(i))); err != nil {
						return fmt.Errorf("part %d: %w", i, err)
					}
				}
				p, err := delta.OpenPart(h, file, inline)
				if err != nil {
					return fmt.Errorf("static delta %s part %d: %w", d, i, err)
				}
				n, err := p.OpCounts(h)
				if err != nil {
					return fmt.Errorf("static delta %s part %d: %w", d, i, err)
				}
				fmt.Fprintf(w, "PartPayload%d: nmodes=%d nxattrs=%d blobsize=%d opsize=%d\n", i, len(p.Modes), len(p.Xattrs), len(p.Blob), len(p.Ops))
				var ops []string
				for _, k := range []string{"openspliceclose", "open", "write", "setread", "unsetread", "close", "bspatch"} {
					ops = append(ops, fmt.Sprintf("%s=%d", k, n[k]))
				}
				fmt.Fprintf(w, "PartPayloadOps%d: %s\n", i, strings.Join(ops, " "))
			}
			fmt.Fprintf(w, "Total Part Size: %s\nTotal Part Uncompressed Size: %s\n", sizeWords(total), sizeWords(totalU))
			fmt.Fprintf(w, "Total Size: %s\nTotal Uncompressed Size: %s\n", sizeWords(total+fb), sizeWords(totalU+fbu))
			return nil
		},
	}
}

// sizeWords is ostree's "N (human)": decimal units after a no-break
// space, as GLib formats sizes.
func sizeWords(n uint64) string {
	if n == 0 {
		return "0 (0 bytes)"
	}
	v, units := float64(n), []string{"bytes", "kB", "MB", "GB", "TB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d (%d bytes)", n, n)
	}
	return fmt.Sprintf("%d (%.1f\u00a0%s)", n, v, units[i])
}

func (a *app) deltaApplyOfflineCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "apply-offline PATH",
		Short:   "Apply a static delta from its directory (or its superblock file), with every object checked",
		Example: `  arbor --repo=repo static-delta apply-offline /media/update/deltas/xx/yyyy`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			dir := args[0]
			if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
				dir = filepath.Dir(dir)
			}
			c, err := delta.ApplyOffline(cmd.Context(), r, dir)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"commit": c.String()})
			}
			return nil
		},
	}
}
