package flatpak

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"arbor/store/keyfile"
)

// RepoFile is a .flatpakrepo: how to add a remote.
type RepoFile struct {
	URL, Title, Comment, Description, Homepage, Icon, DefaultBranch, CollectionID string
	GPGKey                                                                        []byte // a binary keyring, or nil
}

// RefFile is a .flatpakref: one app or runtime and where it comes from.
type RefFile struct {
	Name, URL, Branch, Title, RuntimeRepo, SuggestRemoteName string
	IsRuntime                                                bool
	GPGKey                                                   []byte
}

// Ref is the ref a .flatpakref names, for this machine's architecture.
func (f *RefFile) Ref() Ref {
	k := App
	if f.IsRuntime {
		k = Runtime
	}
	return Ref{Kind: k, ID: f.Name, Arch: Arch(), Branch: f.Branch}
}

func parseFlatpakFile(b []byte, group string) (*keyfile.File, error) {
	if strings.IndexByte(string(b), 0) >= 0 {
		return nil, errors.New("contains a NUL byte")
	}
	kf, err := keyfile.ParseBytes(b)
	if err != nil {
		return nil, err
	}
	if !kf.HasGroup(group) {
		return nil, fmt.Errorf("no [%s] group", group)
	}
	if v, ok := kf.Get(group, "Version"); ok && v != "1" {
		return nil, fmt.Errorf("version %s is not 1", v)
	}
	return kf, nil
}

func gpgKey(kf *keyfile.File, group string) ([]byte, error) {
	v, ok := kf.Get(group, "GPGKey")
	if !ok || v == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
	if err != nil {
		return nil, fmt.Errorf("GPGKey: %w", err)
	}
	if len(key) < 10 {
		return nil, errors.New("GPGKey: too short to be a key")
	}
	return key, nil
}

// ParseRepoFile reads a .flatpakrepo.
func ParseRepoFile(b []byte) (*RepoFile, error) {
	const g = "Flatpak Repo"
	kf, err := parseFlatpakFile(b, g)
	if err != nil {
		return nil, fmt.Errorf(".flatpakrepo: %w", err)
	}
	f := &RepoFile{URL: kf.String(g, "Url", ""), Title: kf.String(g, "Title", ""), Comment: kf.String(g, "Comment", ""),
		Description: kf.String(g, "Description", ""), Homepage: kf.String(g, "Homepage", ""), Icon: kf.String(g, "Icon", ""),
		DefaultBranch: kf.String(g, "DefaultBranch", ""), CollectionID: kf.String(g, "CollectionID", "")}
	if f.URL == "" {
		return nil, errors.New(".flatpakrepo: no Url")
	}
	if f.GPGKey, err = gpgKey(kf, g); err != nil {
		return nil, fmt.Errorf(".flatpakrepo: %w", err)
	}
	return f, nil
}

// ParseRefFile reads a .flatpakref.
func ParseRefFile(b []byte) (*RefFile, error) {
	const g = "Flatpak Ref"
	kf, err := parseFlatpakFile(b, g)
	if err != nil {
		return nil, fmt.Errorf(".flatpakref: %w", err)
	}
	f := &RefFile{Name: kf.String(g, "Name", ""), URL: kf.String(g, "Url", ""), Branch: kf.String(g, "Branch", DefaultBranch),
		Title: kf.String(g, "Title", ""), RuntimeRepo: kf.String(g, "RuntimeRepo", ""),
		SuggestRemoteName: kf.String(g, "SuggestRemoteName", "")}
	if f.IsRuntime, err = kf.Bool(g, "IsRuntime", false); err != nil {
		return nil, fmt.Errorf(".flatpakref: IsRuntime: %w", err)
	}
	if f.URL == "" {
		return nil, errors.New(".flatpakref: no Url")
	}
	if err := f.Ref().Validate(); err != nil {
		return nil, fmt.Errorf(".flatpakref: %w", err)
	}
	if f.GPGKey, err = gpgKey(kf, g); err != nil {
		return nil, fmt.Errorf(".flatpakref: %w", err)
	}
	return f, nil
}

// OriginRemoteName is the remote flatpak makes for a .flatpakref without
// a suggestion: the last element of the id, lowercased, and "-origin".
func (f *RefFile) OriginRemoteName() string {
	if f.SuggestRemoteName != "" {
		return f.SuggestRemoteName
	}
	els := strings.Split(f.Name, ".")
	return strings.ToLower(els[len(els)-1]) + "-origin"
}
