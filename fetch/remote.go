// Package fetch brings objects from remotes into the local store: remotes
// as ostree configures them, full and partial pulls, and (for lazy mounts)
// single objects on demand, every byte verified before it is stored.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/gpg"
	"arbor/store/object"
	"arbor/store/refs"
)

// Remote is a named source of objects, as stored in the repo's config under
// [remote "NAME"] the way ostree stores it.
type Remote struct {
	Name       string
	URL        string
	ContentURL string   // objects come from here when set (contenturl=)
	Mirrors    []string // more base URLs, tried in order after URL (mirrors=)
	GPGVerify  bool     // gpg-verify, default true
	// GPGVerifySummary: gpg-verify-summary, default false.
	GPGVerifySummary bool
	GPGKeyPath       []string // gpgkeypath=
	Branches         []string
	// Cookies go with its requests (<repo>/<name>.cookies.txt); Header
	// and UserAgent are what one operation adds, none by default.
	Cookies   []httpc.Cookie
	Header    http.Header
	UserAgent string
}

func group(name string) string { return fmt.Sprintf("remote %q", name) }

// ErrNoRemote is returned for a remote that is not configured.
var ErrNoRemote = errors.New("no such remote")

// LoadRemote reads a remote's configuration.
func LoadRemote(r *store.Repo, name string) (*Remote, error) { return loadRemote(r, name, 0) }

// loadRemote is LoadRemote in the depth'th parent repository.
func loadRemote(r *store.Repo, name string, depth int) (*Remote, error) {
	if err := refs.ValidateRemote(name); err != nil {
		return nil, err
	}
	cfg := r.Config()
	g := group(name)
	if !cfg.HasGroup(g) {
		// As ostree: a repository inherits its parent's remotes.
		var found *Remote
		err := withParent(r, depth, func(p *store.Repo) error {
			var err error
			found, err = loadRemote(p, name, depth+1)
			return err
		})
		if found != nil && err == nil {
			return found, nil
		}
		return nil, fmt.Errorf("remote %s: %w", name, ErrNoRemote)
	}
	rm := &Remote{Name: name, URL: cfg.String(g, "url", ""), ContentURL: cfg.String(g, "contenturl", ""),
		Mirrors: cfg.List(g, "mirrors"), Branches: cfg.List(g, "branches")}
	var err error
	if rm.GPGVerify, err = cfg.Bool(g, "gpg-verify", true); err != nil {
		return nil, err
	}
	if rm.GPGVerifySummary, err = cfg.Bool(g, "gpg-verify-summary", false); err != nil {
		return nil, err
	}
	if p := cfg.String(g, "gpgkeypath", ""); p != "" {
		for _, x := range strings.FieldsFunc(p, func(r rune) bool { return r == ';' || r == ',' }) {
			rm.GPGKeyPath = append(rm.GPGKeyPath, strings.TrimSpace(x))
		}
	}
	if rm.URL == "" {
		return nil, fmt.Errorf("remote %s has no url", name)
	}
	cs, err := ListCookies(r, name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		rm.Cookies = append(rm.Cookies, c.Cookie)
	}
	return rm, nil
}

// MetadataURLs are the base URLs for summary, refs and commit objects.
func (rm *Remote) MetadataURLs() []string { return append([]string{rm.URL}, rm.Mirrors...) }

// ContentURLs are the base URLs for every other object.
func (rm *Remote) ContentURLs() []string {
	if rm.ContentURL != "" {
		return []string{rm.ContentURL}
	}
	return rm.MetadataURLs()
}

// KeyringPath is where `remote add --gpg-import` keeps the remote's keys.
func KeyringPath(r *store.Repo, name string) string {
	return filepath.Join(r.Path(), name+".trustedkeys.gpg")
}

// Keyring loads the keys this remote's signatures must verify against;
// it is empty when none are configured.
func (rm *Remote) Keyring(r *store.Repo) (*gpg.Keyring, error) {
	paths := rm.keyringPaths(r)
	if len(paths) == 0 {
		return gpg.ParseKeyring(nil)
	}
	k, err := gpg.LoadKeyring(paths...)
	if err != nil {
		return nil, fmt.Errorf("remote %s keyring: %w", rm.Name, err)
	}
	return k, nil
}

// keyringPaths are the files this remote's keys are read from: its own
// keyring, else the system's trusted keyrings, as ostree reads them
// ($OSTREE_GPG_HOME, else /usr/share/ostree/trusted.gpg.d, its key files
// as gpg.KeyFiles finds them); then its gpgkeypath.
func (rm *Remote) keyringPaths(r *store.Repo) []string {
	var paths []string
	if _, err := os.Stat(KeyringPath(r, rm.Name)); err == nil {
		paths = append(paths, KeyringPath(r, rm.Name))
	} else {
		dir := os.Getenv("OSTREE_GPG_HOME")
		if dir == "" {
			dir = "/usr/share/ostree/trusted.gpg.d"
		}
		files, _ := gpg.KeyFiles(dir) // none there: no system keys
		paths = append(paths, files...)
	}
	return append(paths, rm.GPGKeyPath...)
}

// Fingerprint sums up what a fetcher of this remote takes from its
// configuration once, when it is made: where it fetches from, whether it
// verifies, and the bytes of its keyrings. A long-lived fetcher whose
// remote's fingerprint changed is replaced.
func (rm *Remote) Fingerprint(r *store.Repo) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q %v %v %q %q %q %q\n", rm.Name, rm.URL, rm.ContentURL, rm.Mirrors, rm.GPGVerify, rm.GPGVerifySummary, rm.GPGKeyPath, rm.Cookies, rm.Header, rm.UserAgent)
	for _, p := range rm.keyringPaths(r) {
		if b, err := os.ReadFile(p); err == nil {
			fmt.Fprintf(h, "%s %d\n", p, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AddOptions are `remote add`'s flags.
type AddOptions struct {
	NoGPGVerify bool
	// NoSignVerify turns every signature check off, as ostree's flag
	// does: sign-verify=false and gpg-verify=false.
	NoSignVerify bool
	Force        bool              // replace a remote of the same name
	GPGImport    string            // a key file to trust for this remote
	Set          map[string]string // extra keys, as --set=KEY=VALUE
	IfNotExists  bool
	// Imported, when set, hears how many keys GPGImport added.
	Imported func(n int)
}

// AddRemote configures a remote.
func AddRemote(r *store.Repo, name, u string, o AddOptions) error {
	if err := refs.ValidateRemote(name); err != nil {
		return err
	}
	// Any URL is taken, as ostree takes it: a pull names a bad one.
	cfg := r.Config()
	g := group(name)
	if cfg.HasGroup(g) {
		switch {
		case o.IfNotExists:
			return nil
		case o.Force:
			cfg.DeleteGroup(g)
		default:
			return fmt.Errorf("remote %s already exists", name)
		}
	}
	cfg.Set(g, "url", u)
	// As ostree: no signature verification at all means no GPG either.
	if o.NoGPGVerify || o.NoSignVerify {
		cfg.Set(g, "gpg-verify", "false")
	}
	if o.NoSignVerify {
		cfg.Set(g, "sign-verify", "false")
	}
	keys := make([]string, 0, len(o.Set))
	for k := range o.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cfg.Set(g, k, o.Set[k])
	}
	if o.GPGImport != "" {
		add, err := gpg.LoadKeyring(o.GPGImport)
		n := 0
		if err == nil {
			n, err = ImportKeys(r, name, add)
		}
		if err != nil {
			cfg.DeleteGroup(g)
			return fmt.Errorf("importing keys for remote %s: %w", name, err)
		}
		if o.Imported != nil {
			o.Imported(n)
		}
	}
	return r.WriteConfig()
}

// ImportKeys adds keys to the remote's keyring, <repo>/<name>.trustedkeys.gpg,
// and says how many it did not have.
func ImportKeys(r *store.Repo, name string, add *gpg.Keyring) (int, error) {
	if add.Len() == 0 {
		return 0, fmt.Errorf("importing keys for remote %s: no keys given", name)
	}
	p := KeyringPath(r, name)
	k, err := gpg.ParseKeyring(nil)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(p); err == nil {
		if k, err = gpg.LoadKeyring(p); err != nil {
			return 0, fmt.Errorf("remote %s keyring: %w", name, err)
		}
	}
	n := 0
	for _, f := range add.Fingerprints() {
		if !k.Has(f) {
			n++
		}
	}
	k.Merge(add)
	if err := r.WriteFile(filepath.Base(p), k.Export()); err != nil {
		return 0, fmt.Errorf("remote %s keyring: %w", name, err)
	}
	return n, nil
}

// DeleteRemote removes a remote, its keyring and its refs.
func DeleteRemote(r *store.Repo, name string, ifExists bool) error {
	if err := refs.ValidateRemote(name); err != nil {
		return err
	}
	cfg := r.Config()
	if !cfg.HasGroup(group(name)) {
		if ifExists {
			return nil
		}
		return fmt.Errorf("remote %s: %w", name, ErrNoRemote)
	}
	cfg.DeleteGroup(group(name))
	if err := r.WriteConfig(); err != nil {
		return err
	}
	os.Remove(KeyringPath(r, name))
	return os.RemoveAll(filepath.Join(r.Path(), "refs", "remotes", name))
}

// ListRemotes returns the configured remote names, the parent
// repository's (core.parent) included, sorted.
func ListRemotes(r *store.Repo) []string { return listRemotes(r, 0) }

func listRemotes(r *store.Repo, depth int) []string {
	var out []string
	for _, g := range r.Config().Groups() {
		if strings.HasPrefix(g, `remote "`) && strings.HasSuffix(g, `"`) {
			out = append(out, g[len(`remote "`):len(g)-1])
		}
	}
	// An unreadable parent lends no remotes.
	_ = withParent(r, depth, func(p *store.Repo) error {
		for _, n := range listRemotes(p, depth+1) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// maxParents bounds a chain of core.parent repositories (a loop of them
// would never end).
const maxParents = 8

// withParent runs f on r's parent repository (core.parent), if it has
// one; nothing happens without one.
func withParent(r *store.Repo, depth int, f func(p *store.Repo) error) error {
	pp := r.Config().String("core", "parent", "")
	if pp == "" {
		return nil
	}
	if depth >= maxParents {
		return fmt.Errorf("core.parent: more than %d parent repositories", maxParents)
	}
	p, err := store.Open(pp)
	if err != nil {
		return fmt.Errorf("core.parent %s: %w", pp, err)
	}
	defer p.Close()
	return f(p)
}

// RemoteRefs lists the refs a remote's summary offers.
func RemoteRefs(ctx context.Context, r *store.Repo, name string) (map[string]object.Checksum, error) {
	s, err := NewSession(r, name)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Refs(ctx)
}
