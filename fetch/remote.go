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
	"sort"
	"strings"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/gpg"
	"arbor/store/keyfile"
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
	keyPathErr       error    // why gpgkeypath= does not parse
	Branches         []string
	// Cookies go with its requests (<repo>/<name>.cookies.txt); Header
	// and UserAgent are what one operation adds, none by default.
	Cookies   []httpc.Cookie
	Header    http.Header
	UserAgent string

	dir string // the repository whose config holds the remote, and its keyring
}

// maxParents bounds a chain of core.parent repositories, which a
// misconfiguration could make a loop.
const maxParents = 32

// remoteConfig is the config holding group g and the directory of its
// repository: r's own, else that of the nearest repository up the chain
// of core.parent, whose remotes a child inherits.
func remoteConfig(r *store.Repo, g string) (*keyfile.File, string, error) {
	var found *keyfile.File
	var dir string
	err := configChain(r, func(cfg *keyfile.File, d string) bool {
		if cfg.HasGroup(g) {
			found, dir = cfg, d
			return false
		}
		return true
	})
	if err != nil {
		return nil, "", err
	}
	if found == nil {
		return nil, "", ErrNoRemote
	}
	return found, dir, nil
}

// configChain calls fn with r's config, then each parent's up the chain
// of core.parent, until fn returns false.
func configChain(r *store.Repo, fn func(cfg *keyfile.File, dir string) bool) error {
	cfg, dir := r.Config(), r.Path()
	for i := 0; ; i++ {
		if !fn(cfg, dir) {
			return nil
		}
		if i == 0 {
			// A sysroot's repository has its remotes in the sysroot's
			// etc/ostree/remotes.d too, where remote add --sysroot puts
			// them; one that does not parse is skipped, and loading a
			// remote of that name says so.
			for _, f := range remotesDFiles(r) {
				b, err := os.ReadFile(f)
				if err != nil {
					continue
				}
				if c, err := keyfile.ParseBytes(b); err == nil && !fn(c, dir) {
					return nil
				}
			}
		}
		parent := cfg.String("core", "parent", "")
		if parent == "" {
			return nil
		}
		if i == maxParents {
			return fmt.Errorf("core.parent: more than %d parent repositories from %s", maxParents, r.Path())
		}
		b, err := os.ReadFile(filepath.Join(parent, "config"))
		if err != nil {
			return fmt.Errorf("parent repository of %s: %w", dir, err)
		}
		if cfg, err = keyfile.ParseBytes(b); err != nil {
			return fmt.Errorf("parent repository %s config: %w", parent, err)
		}
		dir = parent
	}
}

// remotesDFiles are the remote files of the sysroot whose repository r
// is (ROOT/ostree/repo: ROOT/etc/ostree/remotes.d/*.conf), in name order.
func remotesDFiles(r *store.Repo) []string {
	p := filepath.Clean(r.Path())
	if filepath.Base(p) != "repo" || filepath.Base(filepath.Dir(p)) != "ostree" {
		return nil
	}
	fs, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(p)), "etc", "ostree", "remotes.d", "*.conf"))
	return fs
}

// remotesDFile is the remotes.d file that defines remote name, if one does.
func remotesDFile(r *store.Repo, name string) string {
	for _, f := range remotesDFiles(r) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if c, err := keyfile.ParseBytes(b); err == nil && c.HasGroup(group(name)) {
			return f
		}
	}
	return ""
}

func group(name string) string { return fmt.Sprintf("remote %q", name) }

// ErrNoRemote is returned for a remote that is not configured.
var ErrNoRemote = errors.New("no such remote")

// LoadRemote reads a remote's configuration: the repository's own, or
// one it inherits through core.parent.
func LoadRemote(r *store.Repo, name string) (*Remote, error) {
	if err := refs.ValidateRemote(name); err != nil {
		return nil, err
	}
	g := group(name)
	cfg, dir, err := remoteConfig(r, g)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	rm := &Remote{Name: name, URL: cfg.String(g, "url", ""), ContentURL: cfg.String(g, "contenturl", ""),
		Mirrors: cfg.List(g, "mirrors"), Branches: cfg.List(g, "branches"), dir: dir}
	if rm.GPGVerify, err = cfg.Bool(g, "gpg-verify", true); err != nil {
		return nil, err
	}
	if rm.GPGVerifySummary, err = cfg.Bool(g, "gpg-verify-summary", false); err != nil {
		return nil, err
	}
	if p := cfg.String(g, "gpgkeypath", ""); p != "" {
		if strings.Contains(p, ";") && strings.Contains(p, ",") {
			// As a key file list: one separator or the other. Only
			// what needs the keys fails.
			rm.keyPathErr = fmt.Errorf("remote %s: gpgkeypath: key value list contains more than one separator", name)
		}
		sep := ","
		if strings.Contains(p, ";") {
			sep = ";"
		}
		// A list's last separator may end it; an empty item elsewhere is
		// a path that does not exist, and fails when keys are loaded.
		for _, x := range strings.Split(strings.TrimSuffix(p, sep), sep) {
			rm.GPGKeyPath = append(rm.GPGKeyPath, strings.TrimSpace(x))
		}
	}
	if _, ok := cfg.Get(g, "url"); !ok {
		return nil, fmt.Errorf("No \"url\" option in remote %q", name) // ostree's words
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

// checkPullable refuses a pull from a remote its configuration says
// cannot serve one: one marked unconfigured-state (a subscription not yet
// set up, in the distributor's words), or one another program pulls from
// (custom-backend).
func checkPullable(r *store.Repo, name string) error {
	if err := refs.ValidateRemote(name); err != nil {
		return err
	}
	g := group(name)
	cfg, _, err := remoteConfig(r, g) // the repository's, or a parent's
	if err != nil {
		return fmt.Errorf("remote %s: %w", name, err)
	}
	if st := cfg.String(g, "unconfigured-state", ""); st != "" {
		return fmt.Errorf("remote unconfigured-state: %s", st)
	}
	if b := cfg.String(g, "custom-backend", ""); b != "" {
		return fmt.Errorf("Cannot pull via libostree: remote '%s' uses custom backend '%s'", name, b)
	}
	return nil
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
	if rm.keyPathErr != nil {
		return nil, rm.keyPathErr
	}
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
	dir := rm.dir
	if dir == "" {
		dir = r.Path()
	}
	if own := filepath.Join(dir, rm.Name+".trustedkeys.gpg"); fileExists(own) {
		paths = append(paths, own)
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
	fmt.Fprintf(h, "%q %q %q %q %v %v %q %v %q %q %q\n", rm.Name, rm.URL, rm.ContentURL, rm.Mirrors, rm.GPGVerify, rm.GPGVerifySummary, rm.GPGKeyPath, signVerifies(r, rm.Name), rm.Cookies, rm.Header, rm.UserAgent)
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
	// ConfigDir, when set, is where the remote's config goes, as
	// NAME.conf (a deployment's etc/ostree/remotes.d), instead of the
	// repository's config.
	ConfigDir string
}

// AddRemote configures a remote.
func AddRemote(r *store.Repo, name, u string, o AddOptions) error {
	if err := refs.ValidateRemote(name); err != nil {
		return err
	}
	// Any URL is taken, as ostree takes it: a pull names a bad one.
	g := group(name)
	inConfig := r.Config().HasGroup(g)
	exists := inConfig || remotesDFile(r, name) != ""
	confFile := ""
	if o.ConfigDir != "" {
		confFile = filepath.Join(o.ConfigDir, name+".conf")
		if _, err := os.Stat(confFile); err == nil {
			exists = true
		}
	}
	if exists && !o.Force {
		if o.IfNotExists {
			return nil
		}
		return fmt.Errorf("remote %s already exists", name)
	}
	// The keys first: a remote whose keys cannot be imported is not
	// added.
	if o.GPGImport != "" {
		add, err := gpg.LoadKeyring(o.GPGImport)
		n := 0
		if err == nil {
			n, err = ImportKeys(r, name, add)
		}
		if err != nil {
			return fmt.Errorf("importing keys for remote %s: %w", name, err)
		}
		if o.Imported != nil {
			o.Imported(n)
		}
	}
	fill := func(cfg *keyfile.File) {
		cfg.DeleteGroup(g) // --force replaces it whole
		if u != "" {       // a custom backend's remote may have none
			cfg.Set(g, "url", u)
		}
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
	}
	if confFile == "" {
		return r.EditConfig(func(cfg store.ConfigFile) error { fill(cfg); return nil })
	}
	cfg := keyfile.New()
	fill(cfg)
	if err := os.MkdirAll(o.ConfigDir, 0o755); err != nil {
		return fmt.Errorf("remote %s: %w", name, err)
	}
	if err := atomic.WriteFile(confFile, cfg.Bytes(), 0o644, true); err != nil {
		return fmt.Errorf("remote %s: %w", name, err)
	}
	if inConfig {
		// Replaced by its file: one definition, not two.
		return r.EditConfig(func(cfg store.ConfigFile) error { cfg.DeleteGroup(g); return nil })
	}
	return nil
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
	switch f := remotesDFile(r, name); {
	case cfg.HasGroup(group(name)):
		if err := r.EditConfig(func(cfg store.ConfigFile) error { cfg.DeleteGroup(group(name)); return nil }); err != nil {
			return err
		}
	case f != "":
		// Defined in the sysroot's remotes.d: its file goes.
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remote %s: %w", name, err)
		}
	case ifExists:
		return nil
	default:
		return fmt.Errorf("remote %s: %w", name, ErrNoRemote)
	}
	os.Remove(KeyringPath(r, name))
	return os.RemoveAll(filepath.Join(r.Path(), "refs", "remotes", name))
}

// ListRemotes returns the configured remote names, sorted: the
// repository's own and those it inherits through core.parent.
func ListRemotes(r *store.Repo) []string {
	seen := map[string]bool{}
	var out []string
	// A parent that cannot be read adds nothing; loading its remote
	// says why.
	_ = configChain(r, func(cfg *keyfile.File, _ string) bool {
		for _, g := range cfg.Groups() {
			if strings.HasPrefix(g, `remote "`) && strings.HasSuffix(g, `"`) {
				if name := g[len(`remote "`) : len(g)-1]; !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
		return true
	})
	sort.Strings(out)
	return out
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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
