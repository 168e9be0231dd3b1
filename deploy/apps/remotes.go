package apps

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/refs"
)

// maxLocation bounds a .flatpakref or .flatpakrepo.
const maxLocation = 1 << 20

// ReadLocation reads a .flatpakref or .flatpakrepo from a path or a URL.
func ReadLocation(ctx context.Context, loc string) ([]byte, error) {
	if strings.Contains(loc, "://") {
		return fetch.GetURL(ctx, loc, maxLocation)
	}
	f, err := os.Open(loc)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLocation+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	if len(b) > maxLocation {
		return nil, fmt.Errorf("%s: larger than %d bytes", loc, maxLocation)
	}
	return b, nil
}

// AddRemote adds a remote by URL, recording it in the history.
func (m *Manager) AddRemote(ctx context.Context, name, url string, o fetch.AddOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := fetch.AddRemote(m.Repo, name, url, o)
	return m.recordRemote(name, err)
}

// AddRepoFile adds the remote a .flatpakrepo describes, as name.
func (m *Manager) AddRepoFile(ctx context.Context, name string, data []byte) error {
	return m.AddRepo(ctx, name, data, false)
}

// AddRepo is AddRepoFile that, with ifNotExists, does nothing when the
// remote exists.
func (m *Manager) AddRepo(ctx context.Context, name string, data []byte, ifNotExists bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := flatpak.ParseRepoFile(data)
	if err != nil {
		return fmt.Errorf("the .flatpakrepo of %s: %w", name, err)
	}
	err = addRemoteFrom(m.Repo, name, f.URL, f.GPGKey, repoFileSettings(f), ifNotExists)
	return m.recordRemote(name, err)
}

func (m *Manager) recordRemote(name string, err error) error {
	if herr := m.record(history.Entry{Op: "remote-add", Remote: name}, err); herr != nil && err == nil {
		return herr
	}
	return err
}

// addRemoteFrom adds a remote as a .flatpakrepo or .flatpakref describes
// it: its URL, its key (then commits and summary are verified), its
// display keys.
func addRemoteFrom(r *store.Repo, name, url string, key []byte, set map[string]string, ifNotExists bool) error {
	o := fetch.AddOptions{Set: set, IfNotExists: ifNotExists, NoGPGVerify: key == nil}
	if key != nil {
		// fetch imports keys from a file only.
		f, err := os.CreateTemp("", "arbor-key-")
		if err != nil {
			return fmt.Errorf("the key of remote %s: %w", name, err)
		}
		defer os.Remove(f.Name())
		_, err = f.Write(key)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("the key of remote %s: %w", name, err)
		}
		o.GPGImport = f.Name()
		o.Set["gpg-verify-summary"] = "true"
	}
	return fetch.AddRemote(r, name, url, o)
}

// repoFileSettings are the remote's config keys a .flatpakrepo sets.
func repoFileSettings(f *flatpak.RepoFile) map[string]string {
	set := map[string]string{}
	for k, v := range map[string]string{"xa.title": f.Title, "xa.comment": f.Comment, "xa.description": f.Description,
		"xa.homepage": f.Homepage, "xa.icon": f.Icon, "xa.default-branch": f.DefaultBranch, "collection-id": f.CollectionID} {
		if v != "" {
			set[k] = v
		}
	}
	return set
}

// remoteWithURL finds the remote that fetches from url.
func remoteWithURL(r *store.Repo, url string) (string, bool) {
	for _, name := range fetch.ListRemotes(r) {
		if rm, err := fetch.LoadRemote(r, name); err == nil && strings.TrimSuffix(rm.URL, "/") == strings.TrimSuffix(url, "/") {
			return name, true
		}
	}
	return "", false
}

// RefFileRequest is the install a .flatpakref asks for, its remote found
// (one with the same URL is reused, as flatpak reuses it) or added.
func (m *Manager) RefFileRequest(ctx context.Context, data []byte) (InstallRequest, error) {
	if err := ctx.Err(); err != nil {
		return InstallRequest{}, err
	}
	f, err := flatpak.ParseRefFile(data)
	if err != nil {
		return InstallRequest{}, fmt.Errorf("the .flatpakref: %w", err)
	}
	req := InstallRequest{Name: f.Ref().String(), Kind: f.Ref().Kind, RuntimeRepo: f.RuntimeRepo}
	if name, ok := remoteWithURL(m.Repo, f.URL); ok {
		req.Remote = name
		return req, nil
	}
	req.Remote = f.OriginRemoteName()
	set := map[string]string{"xa.noenumerate": "true", "xa.main-ref": f.Ref().String()}
	if f.Title != "" {
		set["xa.title"] = f.Title
	}
	if err := m.recordRemote(req.Remote, addRemoteFrom(m.Repo, req.Remote, f.URL, f.GPGKey, set, false)); err != nil {
		return InstallRequest{}, err
	}
	return req, nil
}

// InstallRefFile installs what a .flatpakref names, adding its remote
// when no remote has its URL; confirmRuntime is asked before a missing
// runtime is installed (nil: it is).
func (m *Manager) InstallRefFile(ctx context.Context, data []byte, p Progress, confirmRuntime func(flatpak.Ref) bool) ([]Change, error) {
	req, err := m.RefFileRequest(ctx, data)
	if err != nil {
		return nil, err
	}
	req.Runtime = confirmRuntime
	return m.Install(ctx, req, p)
}

// runtimeRemote finds the remote to install an app's runtime from, as
// flatpak looks for it: the app's remote, then the others, then the
// .flatpakrepo the app's .flatpakref named as RuntimeRepo, added as a
// remote named after its file.
func (m *Manager) runtimeRemote(ctx context.Context, o *op, appRemote string, rt flatpak.Ref, runtimeRepo string) (string, error) {
	has := func(remote string) bool {
		o.send(Event{Ref: rt.String(), Phase: PhaseResolving, Message: fmt.Sprintf("looking for %s in remote %s (%s)", rt, remote, m.host(remote))})
		s, err := o.session(m.Repo, remote)
		if err != nil {
			return false
		}
		refs, err := s.Refs(ctx)
		if err != nil {
			return false
		}
		_, ok := refs[rt.String()]
		return ok
	}
	names := []string{appRemote}
	for _, n := range fetch.ListRemotes(m.Repo) {
		if n != appRemote {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if has(n) {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	if runtimeRepo == "" {
		return "", fmt.Errorf("no remote has the runtime %s", rt)
	}
	o.send(Event{Ref: rt.String(), Phase: PhaseResolving, Message: "reading the runtime's repository file " + runtimeRepo})
	b, err := ReadLocation(ctx, runtimeRepo)
	if err != nil {
		return "", fmt.Errorf("the runtime's repository: %w", err)
	}
	f, err := flatpak.ParseRepoFile(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", runtimeRepo, err)
	}
	if n, ok := remoteWithURL(m.Repo, f.URL); ok {
		return "", fmt.Errorf("remote %s (%s) has no runtime %s", n, f.URL, rt)
	}
	name := strings.TrimSuffix(path.Base(runtimeRepo), ".flatpakrepo")
	if err := refs.ValidateRemote(name); err != nil {
		return "", fmt.Errorf("%s: %w", runtimeRepo, err)
	}
	if err := m.recordRemote(name, addRemoteFrom(m.Repo, name, f.URL, f.GPGKey, repoFileSettings(f), false)); err != nil {
		return "", err
	}
	if !has(name) {
		return "", fmt.Errorf("remote %s (%s) has no runtime %s", name, f.URL, rt)
	}
	return name, nil
}

// DeleteRemote deletes a remote, its keyring and its refs, recorded as
// remote-delete. Refs installed from it keep it unless force: without
// it they could never be updated.
func (m *Manager) DeleteRemote(ctx context.Context, name string, force bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !force {
		installed, err := m.In.Installed()
		if err != nil {
			return err
		}
		var from []string
		for _, ref := range installed {
			if d, err := m.In.Get(ref); err == nil && d.Origin == name {
				from = append(from, ref.String())
			}
		}
		if len(from) > 0 {
			return fmt.Errorf("remote %s has refs installed from it (%s): uninstall them first, or use --force", name, strings.Join(from, ", "))
		}
	}
	err := fetch.DeleteRemote(m.Repo, name, false)
	if herr := m.record(history.Entry{Op: "remote-delete", Remote: name}, err); herr != nil && err == nil {
		return herr
	}
	return err
}
