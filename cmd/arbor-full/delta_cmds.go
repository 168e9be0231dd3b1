package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/sign"
)

func (a *app) staticDeltaCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "static-delta",
		Short: "List, show and apply static deltas (ostree's format)",
		Example: `  arbor --repo=repo static-delta list
  arbor --repo=repo static-delta show FROM-TO
  arbor --repo=repo static-delta apply-offline /media/update/deltas/xx/yyyy`,
	}
	c.AddCommand(a.deltaListCmd(), a.deltaShowCmd(), a.deltaApplyOfflineCmd(), a.deltaVerifyCmd(), a.deltaGenerateCmd(), a.deltaDeleteCmd(), a.deltaReindexCmd(), a.deltaIndexesCmd())
	return c
}

func (a *app) deltaListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the repository's static deltas, FROM-TO or TO (from scratch)",
		Example: `  arbor --repo=repo static-delta list`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
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
		}),
	}
}

func (a *app) deltaShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show DELTA",
		Short:   "Describe a static delta: its commits, parts, fallback objects and ops",
		Example: `  arbor --repo=repo static-delta show $(arbor --repo=repo static-delta list | head -1)`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
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
			order := map[bool]string{false: "little", true: "big"}[sb.BigEndian]
			if sb.EndiannessGuessed {
				order += " (heuristic)"
			}
			fmt.Fprintf(w, "To: %s\nEndianness: %s\nTimestamp: %d\nNumber of parents: 0\n", sb.To, order, sb.Timestamp)
			fmt.Fprintf(w, "Number of fallback entries: %d\n", len(sb.Fallbacks))
			var fb, fbu uint64
			for _, f := range sb.Fallbacks {
				fmt.Fprintf(w, "  %s\n", f.Checksum)
				fb += f.Size
				fbu += f.Uncompressed
			}
			fmt.Fprintf(w, "Total Fallback Size: %s\nTotal Fallback Uncompressed Size: %s\n", sizeWords(fb), sizeWords(fbu))
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
		}),
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
	var sv deltaSignFlags
	c := &cobra.Command{
		Use:   "apply-offline [--sign-type=TYPE] PATH [KEY...]",
		Short: "Apply a static delta from its directory (or its superblock file, parts beside it), with every object checked",
		Long: `apply-offline applies a static delta without a remote. With public KEYs (or
--keys-file), or when core.sign-verify-deltas is true, its superblock must carry
a good signature by one of them first.`,
		Example: `  arbor --repo=repo static-delta apply-offline /media/update/deltas/xx/yyyy`,
		Args:    cobra.MinimumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			sb, dir, err := delta.ReadOffline(args[0])
			if err != nil {
				return err
			}
			if err := sv.check(r, args[0], sb, args[1:]); err != nil {
				return err
			}
			c, err := delta.ApplyOfflineSuperblock(cmd.Context(), r, dir, sb)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"commit": c.String()})
			}
			return nil
		}),
	}
	sv.flags(c)
	return c
}

func (a *app) deltaGenerateCmd() *cobra.Command {
	var from, to, signType, signKeysFile, filename string
	var signKeys []string
	var empty, inline, swap, ifNotExists, disableBsdiff bool
	var minFallback, maxChunk, maxBsdiff float64
	c := &cobra.Command{
		Use:   "generate [--from=REV | --empty] (--to=REV | REV)",
		Short: "Write the static delta from one commit to another (or from nothing), in ostree's format",
		Long: `Write a static delta: the objects the new commit has and the old one lacks, in
xz-compressed parts, a file that changed rebuilt from its old version where most
of it is found there. A .gz file that gzip made is also rebuilt from its old
version's text, in a part of arbor's own that ostree does not read (it reads the
part beside). --from defaults to the new commit's parent. Sizes are in
decimal megabytes, as ostree's. Run summary -u afterwards to list it.`,
		Example: `  arbor --repo=repo static-delta generate --to=main
  arbor --repo=repo static-delta generate main
  arbor --repo=repo static-delta generate --empty --to=main --inline`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && to == "" {
				to = args[0] // as ostree: the argument is --to
			}
			if to == "" {
				return errors.New("--to=REV (or REV) is required")
			}
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			o := delta.DefaultGenerateOptions()
			if o.To, err = r.Resolve(to); err != nil {
				return err
			}
			switch {
			case empty && from != "":
				return errors.New("--empty and --from: give one")
			case from != "":
				if o.From, err = r.Resolve(from); err != nil {
					return err
				}
			case !empty:
				cm, err := r.ReadCommit(o.To)
				if err != nil {
					return err
				}
				if cm.Parent.IsZero() {
					return fmt.Errorf("commit %s has no parent: give --from=REV or --empty", o.To)
				}
				o.From = cm.Parent
			}
			d := delta.Ref{From: o.From, To: o.To}
			if ifNotExists && filename == "" && d.Exists(r.Path()) {
				fmt.Fprintf(a.Stdout, "Static delta %s already exists\n", d)
				return nil
			}
			o.Inline, o.SwapEndianness, o.Output = inline, swap, filename
			o.MinFallbackSize, o.MaxChunkSize = int64(minFallback*1e6), int64(maxChunk*1e6)
			if o.MaxBsdiffSize = int64(maxBsdiff * 1e6); disableBsdiff {
				o.MaxBsdiffSize = 0
			}
			if signKeysFile != "" {
				keys, err := sign.ReadKeysFile(signKeysFile)
				if err != nil {
					return err
				}
				if len(keys) == 0 {
					return fmt.Errorf("--keys-file=%s: no secret key in it", signKeysFile)
				}
				signKeys = append(signKeys, keys...)
			}
			ks, err := keySigners(signType, signKeys)
			if err != nil {
				return err
			}
			for _, k := range ks {
				o.Signers = append(o.Signers, delta.SuperblockSigner{Key: k.key, Sign: k.sign})
			}
			fromWord := "empty"
			if !o.From.IsZero() {
				fromWord = o.From.String()
			}
			if !a.json {
				fmt.Fprintf(a.Stdout, "Generating static delta:\n  From: %s\n  To:   %s\n", fromWord, o.To)
			}
			bigBuffers()
			_, st, err := delta.Generate(cmd.Context(), r, o)
			if err != nil {
				return fmt.Errorf("static delta %s: %w", d, err)
			}
			if a.json {
				return a.printJSON(map[string]any{"delta": d.String(), "parts": st.Parts, "objects": st.Objects, "fallbacks": st.Fallbacks, "rebuilt": st.Matched, "bsdiff": st.Bsdiff, "gzip": st.Gzip, "bytes": st.Bytes, "arbor_bytes": st.ArborBytes})
			}
			// ostree's summary lines, on stderr as its are (scripts grep
			// "bsdiff=N objects"); arbor's block matcher is a rolling
			// hash, so its rebuilds are the "rollsum" lines.
			w := a.Stderr
			fmt.Fprintf(w, "modified: %d\nnew reachable: metadata=%d content=%d\nrollsum for %d/%d modified\n", st.Modified, st.NewMeta, st.NewContent, st.Matched, st.Modified)
			for i, p := range st.PartStats {
				fmt.Fprintf(w, "part %d n:%d compressed:%d uncompressed:%d\n", i+1, p.Objects, p.Size, p.Uncompressed)
			}
			fmt.Fprintf(w, "uncompressed=%d compressed=%d\nrollsum=%d objects, %d bytes\nbsdiff=%d objects\n", st.Uncompressed, st.Bytes, st.Matched, st.MatchedBytes, st.Bsdiff)
			if st.Gzip > 0 {
				fmt.Fprintf(w, "gzip=%d objects rebuilt from their texts by arbor, which fetches %d of the %d bytes\n", st.Gzip, st.ArborBytes, st.Bytes)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "the commit the delta starts from (default: --to's parent)")
	f.StringVar(&to, "to", "", "the commit the delta makes")
	f.BoolVar(&empty, "empty", false, "a delta from nothing: everything --to reaches")
	f.BoolVar(&inline, "inline", false, "put the parts in the superblock")
	f.StringVar(&filename, "filename", "", "write the superblock to this file, its parts beside it, rather than into the repository's deltas/")
	f.BoolVar(&swap, "swap-endianness", false, "write the superblock in the other byte order (to test readers)")
	f.BoolVarP(&ifNotExists, "if-not-exists", "n", false, "do nothing if the delta exists")
	f.Float64Var(&minFallback, "min-fallback-size", 4, "leave files over this many MB to be fetched alone (0: none)")
	f.Float64Var(&maxChunk, "max-chunk-size", 32, "close a part once it holds this many MB")
	f.Float64Var(&maxBsdiff, "max-bsdiff-size", 16, "bsdiff a changed file only while it and its old version are at most this many MB together (ostree's default is 128)")
	f.BoolVar(&disableBsdiff, "disable-bsdiff", false, "never bsdiff: rebuild changed files from matched blocks or carry them whole")
	f.StringArrayVar(&signKeys, "sign", nil, "sign the superblock with this secret key (base64), of --sign-type")
	f.StringVar(&signType, "sign-type", sign.Default, "the type of the --sign keys: ed25519 (or dummy, for tests)")
	f.StringVar(&signKeysFile, "keys-file", "", "sign with each secret key of this file, one a line")
	a.jsonFlag(c)
	return c
}

func (a *app) deltaDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete DELTA",
		Short:   "Remove a static delta (run summary -u afterwards)",
		Example: `  arbor --repo=repo static-delta delete FROM-TO`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			d, err := delta.Find(r.Path(), args[0])
			if err != nil {
				return err
			}
			return d.Delete(r.Path())
		}),
	}
}

func (a *app) deltaReindexCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "reindex",
		Short:   "Rewrite delta-indexes/ for the repository's static deltas",
		Example: `  arbor --repo=repo static-delta reindex`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			_, err := delta.Reindex(cmd.Context(), r)
			return err
		}),
	}
}

func (a *app) deltaIndexesCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "indexes",
		Short:   "List the commits the repository has a delta index for",
		Example: `  arbor --repo=repo static-delta indexes`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			cs, err := delta.Indexes(cmd.Context(), r.Path())
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintln(a.Stdout, c)
			}
			return nil
		}),
	}
}
