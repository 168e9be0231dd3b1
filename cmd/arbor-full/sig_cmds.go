package main

import (
	"fmt"
	"strings"

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
