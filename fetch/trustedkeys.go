package fetch

import (
	"fmt"
	"os"

	"arbor/store"
	"arbor/store/gpg"
)

// systemKeyFiles are the system's trusted key files: those of
// $OSTREE_GPG_HOME, else of /usr/share/ostree/trusted.gpg.d.
func systemKeyFiles() []string {
	dir := os.Getenv("OSTREE_GPG_HOME")
	if dir == "" {
		dir = "/usr/share/ostree/trusted.gpg.d"
	}
	files, _ := gpg.KeyFiles(dir) // none there: no system keys
	return files
}

// CommitKeys are the keys a commit's signatures are checked against when
// no one remote is asked for: every remote's, the system's, and the key
// files of homedir when it is not empty (a GnuPG home or a key directory).
func CommitKeys(r *store.Repo, homedir string) (*gpg.Keyring, error) {
	k, err := TrustedKeys(r)
	if err != nil {
		return nil, err
	}
	files := systemKeyFiles()
	if homedir != "" {
		hf, err := gpg.KeyFiles(homedir)
		if err != nil {
			return nil, err
		}
		files = append(files, hf...)
	}
	if len(files) > 0 {
		sk, err := gpg.LoadKeyring(files...)
		if err != nil {
			return nil, err
		}
		k.Merge(sk)
	}
	return k, nil
}

// OwnKeys are the keys a remote was given itself (its keyring and its
// gpgkeypath), without the system's it falls back to; with no remote
// named, the system's.
func OwnKeys(r *store.Repo, remote string) (*gpg.Keyring, error) {
	if remote == "" {
		return gpg.LoadKeyring(systemKeyFiles()...)
	}
	rm, err := LoadRemote(r, remote)
	if err != nil {
		return nil, err
	}
	if rm.keyPathErr != nil {
		return nil, rm.keyPathErr
	}
	var paths []string
	if _, err := os.Stat(KeyringPath(r, rm.Name)); err == nil {
		paths = append(paths, KeyringPath(r, rm.Name))
	}
	k, err := gpg.LoadKeyring(append(paths, rm.GPGKeyPath...)...)
	if err != nil {
		return nil, fmt.Errorf("remote %s keyring: %w", rm.Name, err)
	}
	return k, nil
}
