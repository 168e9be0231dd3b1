package fetch

import (
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
