package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/sysroot"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/gpg"
	"arbor/store/object"
)

// printDeploymentSigs describes the GPG signatures of a deployment's
// commit, as admin status does for a deployment whose remote verifies
// signatures, checked against that remote's keys. With verify, a commit
// without a good signature is an error.
func (a *app) printDeploymentSigs(r *store.Repo, d *sysroot.Deployment, verify bool) error {
	remote, _, ok := strings.Cut(d.Refspec(), ":")
	if !ok || remote == "" {
		return nil
	}
	rm, err := fetch.LoadRemote(r, remote)
	if err != nil || !rm.GPGVerify {
		return nil // no such remote, or one that does not verify: nothing to show
	}
	keys, err := rm.Keyring(r)
	if err != nil {
		return err
	}
	sigs, err := r.CommitSignatures(d.Commit)
	if err != nil {
		return err
	}
	b, err := r.ReadMeta(d.Commit, object.TypeCommit)
	if err != nil {
		return err
	}
	res := keys.Check(b, sigs)
	printSigResults(a, res, "    GPG: ")
	if verify && !anyValid(res) {
		return fmt.Errorf("deployment %s: commit %s has no valid GPG signature from remote %s's keys", d.Name(), d.Commit, remote)
	}
	return nil
}

// printSigResults prints each signature's description, lines prefixed.
func printSigResults(a *app, res []gpg.SigResult, prefix string) {
	for _, s := range res {
		s.UserName, s.UserEmail = termtext.Line(s.UserName), termtext.Line(s.UserEmail)
		fmt.Fprint(a.Stdout, s.Describe(prefix))
	}
}

func anyValid(res []gpg.SigResult) bool {
	for _, s := range res {
		if s.Valid {
			return true
		}
	}
	return false
}

func (a *app) remoteGPGListKeysCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "gpg-list-keys [REMOTE]",
		Short:   "List the GPG keys a remote trusts, or with no remote the system's",
		Example: `  arbor --repo=repo remote gpg-list-keys origin`,
		Args:    cobra.MaximumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			remote := ""
			if len(args) == 1 {
				remote = args[0]
			}
			keys, err := fetch.OwnKeys(r, remote)
			if err != nil {
				return err
			}
			for _, k := range keys.Keys() {
				printKey(a.Stdout, k)
			}
			return nil
		}),
	}
}

// printKey lists a key as ostree does, dates in the local time zone.
func printKey(w io.Writer, k gpg.KeyInfo) {
	revoked := func(b bool) string {
		if b {
			return " (revoked)"
		}
		return ""
	}
	date := func(t time.Time) string { return t.Local().Format("Mon Jan _2 15:04:05 2006") }
	expiry := func(indent string, t time.Time) {
		switch {
		case t.IsZero():
		case time.Now().Before(t):
			fmt.Fprintf(w, "%sExpires: %s\n", indent, date(t))
		default:
			fmt.Fprintf(w, "%sExpired: %s\n", indent, date(t))
		}
	}
	fmt.Fprintf(w, "Key: %s%s\n", k.Fingerprint, revoked(k.Revoked))
	fmt.Fprintf(w, "  Created: %s\n", date(k.Created))
	expiry("  ", k.Expires)
	for _, u := range k.UIDs {
		fmt.Fprintf(w, "  UID: %s%s\n", termtext.Line(u.Text), revoked(u.Revoked))
		if adv, direct := gpg.WKDURLs(u.Email); adv != "" {
			fmt.Fprintf(w, "  Advanced update URL: %s\n", termtext.Line(adv))
			fmt.Fprintf(w, "  Direct update URL: %s\n", termtext.Line(direct))
		}
	}
	for _, s := range k.Subkeys {
		fmt.Fprintf(w, "  Subkey: %s%s\n", s.Fingerprint, revoked(s.Revoked))
		fmt.Fprintf(w, "    Created: %s\n", date(s.Created))
		expiry("    ", s.Expires)
	}
}
