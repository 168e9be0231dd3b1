// Package store is arbor's repository: OSTree's on-disk layout and objects,
// with a badger index beside them. Commands above it (pull, mounts,
// deployments) read and write objects only through this package.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	syncatomic "sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"arbor/store/atomic"
	"arbor/store/index"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Mode is a repository mode.
type Mode int

// Repository modes, spelled as in the config file.
const (
	ModeBare Mode = iota
	ModeBareUser
	ModeBareUserOnly
	ModeArchive
)

func (m Mode) String() string {
	switch m {
	case ModeBare:
		return "bare"
	case ModeBareUser:
		return "bare-user"
	case ModeBareUserOnly:
		return "bare-user-only"
	case ModeArchive:
		return "archive-z2"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode reads a mode name; "archive" and "archive-z2" are the same.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "bare":
		return ModeBare, nil
	case "bare-user":
		return ModeBareUser, nil
	case "bare-user-only":
		return ModeBareUserOnly, nil
	case "archive", "archive-z2":
		return ModeArchive, nil
	}
	return 0, fmt.Errorf("unknown repo mode %q (want bare, bare-user, bare-user-only or archive)", s)
}

// Repo is an open repository.
type Repo struct {
	path       string
	mode       Mode
	cfg        syncatomic.Pointer[keyfile.File] // replaced whole by ReloadConfig
	fsync      bool
	compressor *object.Compressor
	decomp     object.Decompressor

	idxMu  sync.Mutex
	idxAt  time.Time // when the daemon last tried to open the index
	daemon bool      // see KeepsIndex
	idx    *index.Index
	idxErr error

	parent *Repo // core.parent, read from and not stored again; nil for none
}

// Path returns the repository root.
func (r *Repo) Path() string { return r.path }

// Mode returns the repository mode.
func (r *Repo) Mode() Mode { return r.mode }

// Config returns the parsed config file.
func (r *Repo) Config() *keyfile.File { return r.cfg.Load() }

// ReloadConfig reads the config file again, for a process that outlives
// changes other commands make to it (the daemon: remotes added, keys
// changed). The core settings read at open stay as they were.
func (r *Repo) ReloadConfig() error {
	b, err := os.ReadFile(filepath.Join(r.path, "config"))
	if err != nil {
		return fmt.Errorf("repo %s config: %w", r.path, err)
	}
	cfg, err := keyfile.ParseBytes(b)
	if err != nil {
		return fmt.Errorf("repo %s config: %w", r.path, err)
	}
	r.cfg.Store(cfg)
	return nil
}

func (r *Repo) archive() bool { return r.mode == ModeArchive }

// Init creates a repository at path, as `ostree init` does. An existing
// repository of the same mode is left alone.
func Init(path string, mode Mode) (*Repo, error) {
	if r, err := Open(path); err == nil {
		if r.mode != mode {
			return nil, fmt.Errorf("init %s: already a %s repository", path, r.mode)
		}
		return r, nil
	}
	for _, d := range []string{"", "tmp", "tmp/cache", "extensions", "state", "refs", "refs/heads",
		"refs/mirrors", "refs/remotes", "objects"} {
		if err := os.MkdirAll(filepath.Join(path, d), 0o755); err != nil {
			return nil, fmt.Errorf("init %s: %w", path, err)
		}
	}
	cfg := keyfile.New()
	cfg.Set("core", "repo_version", "1")
	cfg.Set("core", "mode", mode.String())
	if err := atomic.WriteFile(filepath.Join(path, "config"), cfg.Bytes(), 0o644, true); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return Open(path)
}

// OpenOrInit opens the repository at path, of whatever mode, or makes
// one in mode when nothing is there yet, as a publisher's first export
// does.
func OpenOrInit(path string, mode Mode) (*Repo, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return Init(path, mode)
	}
	return Open(path)
}

// EnsureRepo creates a bare-user repository (for checkouts and mounts) at
// path unless one is there.
func EnsureRepo(path string) error {
	if _, err := os.Stat(filepath.Join(path, "config")); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r, err := Init(path, ModeBareUser)
	if err != nil {
		return fmt.Errorf("creating the repository %s: %w", path, err)
	}
	return r.Close()
}

// Open opens an existing repository.
func Open(path string) (*Repo, error) { return openDepth(path, 0) }

func openDepth(path string, depth int) (*Repo, error) {
	b, err := os.ReadFile(filepath.Join(path, "config"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not a repository: no config file", path)
		}
		return nil, fmt.Errorf("opening repo %s: %w", path, err)
	}
	cfg, err := keyfile.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("repo %s config: %w", path, err)
	}
	if v := cfg.String("core", "repo_version", ""); v != "1" {
		return nil, fmt.Errorf("repo %s: unsupported core.repo_version %q", path, v)
	}
	if _, ok := cfg.Get("core", "archive"); ok {
		return nil, fmt.Errorf("repo %s: legacy core.archive is not supported", path)
	}
	mode, err := ParseMode(cfg.String("core", "mode", "bare"))
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", path, err)
	}
	// tmp/ is made again when something removed it, as ostree does; a
	// repository this user cannot write stays as it is, for reading.
	_ = os.Mkdir(filepath.Join(path, "tmp"), 0o755)
	r := &Repo{path: path, mode: mode}
	r.cfg.Store(cfg)
	if r.fsync, err = cfg.Bool("core", "fsync", true); err != nil {
		return nil, fmt.Errorf("repo %s: %w", path, err)
	}
	level, err := cfg.Int("archive", "zlib-level", 6)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", path, err)
	}
	if r.compressor, err = object.NewCompressor(level); err != nil {
		return nil, fmt.Errorf("repo %s: archive.zlib-level: %w", path, err)
	}
	if r.parent, err = r.openParent(depth); err != nil {
		return nil, err
	}
	return r, nil
}

// Close releases the index.
func (r *Repo) Close() error {
	if r.parent != nil {
		r.parent.Close()
	}
	if r.idx != nil {
		return r.idx.Close()
	}
	return nil
}

// IndexDir is where the badger index lives; extensions/ is OSTree's place
// for other tools' data, so ostree leaves it alone.
func (r *Repo) IndexDir() string { return filepath.Join(r.path, "extensions", "arbor", "index") }

// DaemonLockPath is the file the daemon of the repository at repo holds
// locked while it runs (and, with it, the index).
func DaemonLockPath(repo string) string {
	return filepath.Join(repo, "extensions", "arbor", "mountd.lock")
}

// daemonRuns says whether the repository's daemon holds its lock.
func (r *Repo) daemonRuns() bool {
	f, err := os.Open(DaemonLockPath(r.path))
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) != nil
}

// KeepsIndex marks this process as the repository's daemon, which keeps
// the index open for its life and writes a few objects at a time: its
// index opens with small write buffers (quicker to open), and a command
// holding the index is not waited for (that command may be waiting for
// the daemon): the daemon answers from the files and tries again later.
func (r *Repo) KeepsIndex() { r.daemon = true }

// indexRetry is how often a daemon tries again for an index a command held.
const indexRetry = 250 * time.Millisecond

// Index opens the index on first use, bringing it up to date with the files.
// Another command holding it is waited for a moment; a running daemon,
// which keeps it, is not: the command reads the files instead.
func (r *Repo) Index(ctx context.Context) (*index.Index, error) {
	r.idxMu.Lock()
	defer r.idxMu.Unlock()
	if r.idxErr != nil || r.idx != nil && !(r.daemon && r.idx.FilesOnly() && time.Since(r.idxAt) > indexRetry) {
		return r.idx, r.idxErr
	}
	wait := 2 * time.Second
	if r.daemon || r.daemonRuns() {
		wait = 0
	}
	r.idxAt = time.Now()
	r.idx, r.idxErr = index.Open(ctx, r.IndexDir(), filepath.Join(r.path, "objects"), wait, r.daemon)
	return r.idx, r.idxErr
}

// Lock kinds, compatible with ostree's OFD locks on the .lock file.
const (
	LockShared    = unix.F_RDLCK
	LockExclusive = unix.F_WRLCK
)

// Lock takes the repo lock that ostree also takes, so arbor and ostree do
// not prune under each other's writes. The returned func releases it.
func (r *Repo) Lock(ctx context.Context, kind int16) (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.path, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("repo lock: %w", err)
	}
	lk := unix.Flock_t{Type: kind, Whence: 0}
	for {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, fmt.Errorf("repo lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for repo lock: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return func() { f.Close() }, nil
}

// cleanRel checks a slash-separated path inside a tree and returns its
// components; "" and "/" mean the root.
func cleanRel(p string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("path %q: '..' is not allowed", p)
		}
		out = append(out, c)
	}
	return out, nil
}

// ConfigFile is the repository's config as EditConfig hands it out.
type ConfigFile = *keyfile.File

// EditConfig changes the config file: edit works on a copy, which is
// written atomically and becomes the repository's config only when
// edit succeeds.
func (r *Repo) EditConfig(edit func(ConfigFile) error) error {
	cfg, err := keyfile.ParseBytes(r.Config().Bytes())
	if err != nil {
		return fmt.Errorf("repo %s config: %w", r.path, err)
	}
	if err := edit(cfg); err != nil {
		return err
	}
	if err := atomic.WriteFile(filepath.Join(r.path, "config"), cfg.Bytes(), 0o644, r.fsync); err != nil {
		return err
	}
	r.cfg.Store(cfg)
	return nil
}
