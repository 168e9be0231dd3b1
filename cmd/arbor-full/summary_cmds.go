package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/store"
	"arbor/store/delta"
	"arbor/store/gvariant"
	"arbor/store/object"
	"arbor/store/sign"
)

func (a *app) summaryCmd() *cobra.Command {
	var update, view, raw bool
	var keyIDs, addMeta, signKeys []string
	var homedir, signType string
	c := &cobra.Command{
		Use:   "summary (-u [--gpg-sign=KEYID --gpg-homedir=DIR] [-m KEY=VALUE...] | --view | --raw)",
		Short: "Write or show the summary file that clients read the refs from",
		Example: `  arbor --repo=repo summary -u
  arbor --repo=repo summary -u --gpg-sign=0123ABCD --gpg-homedir=~/.gnupg
  arbor --repo=repo summary -u --add-metadata=org.example.note="'nightly'"
  arbor --repo=repo summary --view`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f := cmd.Flag("verbose"); f != nil && f.Changed && !update && !raw {
				view = true // ostree's summary -v is --view (the global -v is taken)
			}
			if !update && !view && !raw {
				return errors.New("No option specified; use -u to update summary")
			}
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			if update {
				extra, err := parseMetadataArgs(addMeta)
				if err != nil {
					return err
				}
				if r.CollectionID() != "" {
					// Peers sharing the collection get the metadata
					// as a bound, signable commit too.
					c, err := r.CommitMetadataRef(cmd.Context(), extra)
					if err != nil {
						return err
					}
					if err := signCommit(cmd.Context(), r, c, keyIDs, homedir); err != nil {
						return err
					}
				}
				ks, err := keySigners(signType, signKeys)
				if err != nil {
					return err
				}
				return updateSummaryWith(cmd.Context(), r, extra, keyIDs, homedir, ks...)
			}
			b, err := r.ReadSummary()
			if err != nil {
				return err
			}
			return a.printSummary(b, raw)
		},
	}
	f := c.Flags()
	f.BoolVarP(&update, "update", "u", false, "update the summary")
	f.BoolVar(&view, "view", false, "show the summary")
	f.BoolVar(&raw, "raw", false, "show the summary as GVariant text")
	f.StringArrayVar(&keyIDs, "gpg-sign", nil, "sign the summary with this key")
	f.StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	f.StringArrayVar(&signKeys, "sign", nil, "sign the summary with this secret key (base64), of --sign-type")
	f.StringVar(&signType, "sign-type", sign.Default, "the type of the --sign keys: ed25519 (or dummy, for tests)")
	f.StringArrayVarP(&addMeta, "add-metadata", "m", nil, "add KEY=VALUE (VALUE in GVariant text form) to the summary's metadata")
	return c
}

// parseMetadataArgs reads KEY=VALUE pairs whose values are GVariant text.
func parseMetadataArgs(kvs []string) ([]object.MetaEntry, error) {
	var out []object.MetaEntry
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("Missing '=' in KEY=VALUE metadata '%s'", kv)
		}
		val, err := gvariant.ParseText(v, nil)
		if err != nil {
			return nil, fmt.Errorf("metadata %s: %w", k, err)
		}
		out = append(out, object.MetaEntry{Key: k, Value: val})
	}
	return out, nil
}

// updateSummary writes the tree indexes and the summary, signed with each
// key.
func updateSummary(ctx context.Context, r *store.Repo, keyIDs []string, homedir string, keyed ...keySigner) error {
	return updateSummaryWith(ctx, r, nil, keyIDs, homedir, keyed...)
}

func updateSummaryWith(ctx context.Context, r *store.Repo, extra []object.MetaEntry, keyIDs []string, homedir string, keyed ...keySigner) error {
	var signers []store.Signer
	for _, k := range keyIDs {
		s, err := loadSigner(k, homedir)
		if err != nil {
			return err
		}
		signers = append(signers, s.Sign)
	}
	// Static deltas are indexed, as ostree's summary -u indexes them.
	deltas, err := delta.SummaryDeltas(ctx, r)
	if err != nil {
		return err
	}
	var ks []store.KeyedSigner
	for _, k := range keyed {
		ks = append(ks, store.KeyedSigner{Key: k.key, Sign: k.sign})
	}
	return r.UpdateSummaryWith(ctx, store.SummaryOptions{Now: time.Now(), Deltas: deltas, Extra: extra, Keyed: ks}, signers...)
}

// printSummary shows a summary as ostree's summary --view does (its
// lines, which scripts read), or --raw as GVariant text.
func (a *app) printSummary(b []byte, raw bool) error {
	s, err := store.ParseSummary(b)
	if err != nil {
		return err
	}
	if raw {
		v, err := gvariant.Decode(store.SummaryType(), b)
		if err != nil {
			return err
		}
		// Numbers as a big-endian host would show them, as ostree does.
		fmt.Fprintln(a.Stdout, termtext.Line(gvariant.Print(store.SummaryType(), gvariant.Byteswap(store.SummaryType(), v))))
		return nil
	}
	a.printSummaryRefs(s.CollectionID, s.Refs)
	for _, c := range s.Collections {
		a.printSummaryRefs(c.ID, c.Refs)
	}
	for _, m := range s.Metadata {
		k := termtext.Line(m.Key)
		switch m.Key {
		case "ostree.static-deltas":
			// The deltas themselves, as ostree prints them: scripts look
			// for a delta's name here.
			fmt.Fprintf(a.Stdout, "Static Deltas (%s): %s\n", k, termtext.Line(gvariant.PrintPlain(m.Value.Type, m.Value.Value)))
		case "ostree.summary.last-modified", "ostree.summary.expires":
			label := "Last-Modified"
			if m.Key == "ostree.summary.expires" {
				label = "Expires"
			}
			fmt.Fprintf(a.Stdout, "%s (%s): %s\n", label, k, beTime(m.Value))
		case "ostree.summary.collection-id":
			id, _ := m.Value.Value.(string)
			fmt.Fprintf(a.Stdout, "Collection ID (%s): %s\n", k, termtext.Line(id))
		case "ostree.summary.collection-map":
			fmt.Fprintf(a.Stdout, "Collection Map (%s): [printed above]\n", k)
		default:
			fmt.Fprintf(a.Stdout, "%s: %s\n", k, termtext.Line(gvariant.PrintPlain(m.Value.Type, m.Value.Value)))
		}
	}
	return nil
}

func (a *app) printSummaryRefs(collection string, refs []store.SummaryRef) {
	for _, r := range refs {
		if collection == "" {
			fmt.Fprintf(a.Stdout, "* %s\n", termtext.Line(r.Name))
		} else {
			fmt.Fprintf(a.Stdout, "* (%s, %s)\n", termtext.Line(collection), termtext.Line(r.Name))
		}
		fmt.Fprintf(a.Stdout, "    Latest Commit (%s):\n      %s\n", siBytes(int64(r.Size)), r.Commit)
		fmt.Fprintf(a.Stdout, "    Timestamp (ostree.commit.timestamp): %s\n", isoTime(r.Timestamp))
		if r.Version != "" {
			fmt.Fprintf(a.Stdout, "    Version (ostree.commit.version): %s\n", termtext.Line(r.Version))
		}
		fmt.Fprintln(a.Stdout)
	}
}

// beTime formats a big-endian uint64 of seconds as ISO 8601 in UTC.
func beTime(v gvariant.Variant) string {
	t, ok := v.Value.(uint64)
	if !ok {
		return "invalid"
	}
	return isoTime(gvariant.Byteswap(v.Type, t).(uint64))
}

func isoTime(secs uint64) string {
	return time.Unix(int64(secs), 0).UTC().Format("2006-01-02T15:04:05Z")
}

// autoUpdateSummary rewrites the summary after refs changed when the
// repository asks for it (core.auto-update-summary, or its older name
// core.commit-update-summary), so a published repository never serves
// refs older than its files.
func autoUpdateSummary(ctx context.Context, r *store.Repo) error {
	cfg := r.Config()
	auto, err := cfg.Bool("core", "auto-update-summary", false)
	if err != nil {
		return err
	}
	if !auto {
		if auto, err = cfg.Bool("core", "commit-update-summary", false); err != nil {
			return err
		}
	}
	if !auto {
		return nil
	}
	return updateSummary(ctx, r, nil, "")
}
