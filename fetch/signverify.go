package fetch

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"arbor/store"
	"arbor/store/object"
	"arbor/store/sign"
)

// signPolicy is a remote's sign-verify: the signature types its commits
// must carry a good signature of (one is enough), with their keys.
type signPolicy struct {
	engines []sign.Engine
	keys    map[string][]string // by engine name
}

// dummyEnabled is whether the dummy signature type, which proves
// nothing, may be used: only where tests ask for it.
func dummyEnabled() bool { return os.Getenv("OSTREE_DUMMY_SIGN_ENABLED") != "" }

// signVerifies reports whether a remote's sign-verify is on: then, as
// with gpg-verify, only what its signed commits vouch for is served.
func signVerifies(r *store.Repo, name string) bool {
	switch strings.ToLower(strings.TrimSpace(r.Config().String(group(name), "sign-verify", ""))) {
	case "", "false", "no", "0":
		return false
	}
	return true
}

// loadSignPolicy reads sign-verify (true, false, or a list of types) and
// each type's keys (verification-TYPE-key, verification-TYPE-file, else
// the system's trusted keys); nil when the remote does not verify so.
func loadSignPolicy(r *store.Repo, name string) (*signPolicy, error) {
	return loadSignPolicyAt(r, name, "sign-verify")
}

// loadSignPolicyAt reads a policy from setting: sign-verify for commits,
// sign-verify-summary for the summary.
func loadSignPolicyAt(r *store.Repo, name, setting string) (*signPolicy, error) {
	cfg := r.Config()
	g := group(name)
	v := strings.TrimSpace(cfg.String(g, setting, ""))
	var names []string
	all := false
	switch strings.ToLower(v) {
	case "", "false", "no", "0":
		return nil, nil
	case "true", "yes", "1":
		names, all = sign.Names(), true
	default:
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	sp := &signPolicy{keys: map[string][]string{}}
	for _, n := range names {
		e, err := sign.Lookup(n, dummyEnabled())
		if err != nil {
			return nil, fmt.Errorf("remote %s: %s: %w", name, setting, err)
		}
		keys, err := remoteSignKeys(r, g, e)
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", name, err)
		}
		if len(keys) == 0 {
			if all {
				continue
			}
			return nil, fmt.Errorf("remote %s: No keys found for required signapi type %s", name, n)
		}
		sp.engines = append(sp.engines, e)
		sp.keys[e.Name()] = keys
	}
	if len(sp.engines) == 0 {
		return nil, fmt.Errorf("remote %s: %s is set but no keys are configured (verification-TYPE-key or verification-TYPE-file)", name, setting)
	}
	return sp, nil
}

// remoteSignKeys are the keys of one type a remote is configured with.
func remoteSignKeys(r *store.Repo, g string, e sign.Engine) ([]string, error) {
	cfg := r.Config()
	var keys []string
	if k := strings.TrimSpace(cfg.String(g, "verification-"+e.Name()+"-key", "")); k != "" {
		keys = append(keys, k)
	}
	file := cfg.String(g, "verification-"+e.Name()+"-file", "")
	if file != "" {
		more, err := sign.ReadKeysFile(file)
		if err != nil {
			return nil, fmt.Errorf("verification-%s-file: %w", e.Name(), err)
		}
		keys = append(keys, more...)
	}
	if len(keys) > 0 || file != "" || e.Name() == "dummy" {
		return keys, nil
	}
	for _, d := range sign.SystemDirs() {
		more, err := sign.DirKeys(d, e.Name())
		if err != nil {
			return nil, err
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// verifySummary checks a summary's signatures (summary.sig) as verify
// does a commit's; a missing summary or one without signatures fails.
func (sp *signPolicy) verifySummary(summary, sig []byte) error {
	if summary == nil {
		return fmt.Errorf("sign-verify-summary is set but the remote has no summary")
	}
	if sig == nil {
		return fmt.Errorf("summary: No signatures found (no summary.sig)")
	}
	if _, err := object.ParseVarDict(sig); err != nil {
		return fmt.Errorf("summary: No signatures found: summary.sig does not parse: %w", err)
	}
	if err := sp.verify(summary, sig); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

// verify accepts data when one of its signatures in detached, of any of
// the policy's types, was made by one of that type's keys.
func (sp *signPolicy) verify(data, detached []byte) error {
	var errs []error
	for _, e := range sp.engines {
		sigs, err := store.SignaturesAt(detached, e.MetaKey())
		if err != nil {
			return err
		}
		_, err = e.Verify(sp.keys[e.Name()], data, sigs)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return fmt.Errorf("Can't verify commit: %w", errs[0])
	}
	why := make([]string, len(errs))
	for i, err := range errs {
		why[i] = err.Error()
	}
	return fmt.Errorf("Can't verify commit: %s", strings.Join(why, "; "))
}

// VerifyStoredCommit checks commit c, stored by other means than a pull
// from remote (a bundle's), as a pull from remote would check it: its
// GPG signatures when the remote verifies them, and those of its
// sign-verify. A remote that checks neither passes it.
func VerifyStoredCommit(r *store.Repo, remote string, c object.Checksum) error {
	rm, err := LoadRemote(r, remote)
	if err != nil {
		return err
	}
	sp, err := loadSignPolicy(r, remote)
	if err != nil {
		return err
	}
	if !rm.GPGVerify && sp == nil {
		return nil
	}
	commit, err := r.ReadMeta(c, object.TypeCommit)
	if err != nil {
		return err
	}
	detached, err := r.ReadMeta(c, object.TypeCommitMeta)
	if err != nil && !errors.Is(err, store.ErrObjectMissing) {
		return err
	}
	if rm.GPGVerify {
		keys, err := rm.Keyring(r)
		if err != nil {
			return err
		}
		if err := verifySigs(keys, commit, detached); err != nil {
			return fmt.Errorf("commit %s: %w", c, err)
		}
	}
	if sp != nil {
		if err := sp.verify(commit, detached); err != nil {
			return fmt.Errorf("commit %s: %w", c, err)
		}
	}
	return nil
}
