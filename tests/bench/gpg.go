package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// signingKey is a throwaway GnuPG key for a publisher in the bench.
type signingKey struct {
	home, id, public string
}

// newSigningKey makes an ed25519 signing key without a passphrase in a
// GnuPG home of its own under dir (short: gpg-agent's socket path is
// limited).
func newSigningKey(e *env, dir, name string) (*signingKey, error) {
	home, err := os.MkdirTemp("", "abgpg")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(home, 0o700); err != nil {
		return nil, err
	}
	gpg := func(args ...string) (string, error) {
		s, err := run(e, append([]string{"gpg", "--homedir", home, "--batch", "--no-tty", "--quiet"}, args...))
		return s.stdout, err
	}
	if _, err := gpg("--passphrase", "", "--quick-gen-key", name+" <bench@arbor.test>", "ed25519", "sign", "never"); err != nil {
		return nil, err
	}
	out, err := gpg("--list-secret-keys", "--with-colons")
	if err != nil {
		return nil, err
	}
	k := &signingKey{home: home, public: filepath.Join(dir, "publisher.gpg")}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Split(l, ":"); f[0] == "fpr" && len(f) > 9 {
			k.id = f[9]
			break
		}
	}
	if k.id == "" {
		return nil, fmt.Errorf("no fingerprint for the key in %s", home)
	}
	if _, err := gpg("--export", "--output", k.public, k.id); err != nil {
		return nil, err
	}
	return k, nil
}

// flags are what arbor's and ostree's commit and summary take to sign.
func (k *signingKey) flags() []string {
	return []string{"--gpg-sign=" + k.id, "--gpg-homedir=" + k.home}
}

// close stops the key's agent and removes its home.
func (k *signingKey) close(e *env) {
	run(e, []string{"gpgconf", "--homedir", k.home, "--kill", "gpg-agent"})
	os.RemoveAll(k.home)
}
