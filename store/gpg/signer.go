package gpg

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Secret key failures from LoadSigner.
var (
	ErrNoSecretKey  = errors.New("gpg: secret key not found")
	ErrProtectedKey = errors.New("gpg: secret key is passphrase-protected and cannot be unlocked")
)

// Signer signs with one secret key.
type Signer struct {
	entity *openpgp.Entity
	keyID  uint64 // the primary key or subkey that makes signatures
}

// LoadSigner finds the secret key keyID (a fingerprint, or a long or short
// key ID, any case, optional 0x) as `--gpg-sign=KEYID --gpg-homedir=DIR`
// would. DIR empty means $GNUPGHOME, else ~/.gnupg. When DIR has
// private-keys-v1.d (GnuPG 2.x), or is a GnuPG 1.x home (pubring.gpg and
// secring.gpg), the key is exported with gpg from PATH when it is there;
// exported secret keys kept in DIR (secring.gpg, *.asc, *.key) are read
// directly, so those need no gpg. A key ID naming a primary key signs with
// its newest valid signing subkey, if any, as gpg does.
func LoadSigner(homedir, keyID string) (*Signer, error) {
	want, err := normalizeKeyID(keyID)
	if err != nil {
		return nil, err
	}
	dir, err := resolveHomedir(homedir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("gpg: homedir: %w", err)
	}
	// GnuPG 2.x keeps the live secret keys in private-keys-v1.d; a
	// secring.gpg next to it may be a stale pre-migration copy, so ask gpg
	// first.
	_, err = os.Stat(filepath.Join(dir, "private-keys-v1.d"))
	agentKeys := err == nil
	// A GnuPG 1 home (both keyrings) is gpg's too: gpg 2 moves its secret
	// keys to the agent when it first reads them, after which they are
	// the live ones, as for every user of gpg.
	v1Home := fileExists(filepath.Join(dir, "pubring.gpg")) && fileExists(filepath.Join(dir, "secring.gpg"))
	gpg, gpgErr := exec.LookPath("gpg")
	if (agentKeys || v1Home) && gpgErr == nil {
		el, err := exportWithGPG(gpg, dir, want)
		if err == nil {
			if s, err := pickSigner(el, want); !errors.Is(err, ErrNoSecretKey) {
				return s, err
			}
		} else if !errors.Is(err, ErrNoSecretKey) && agentKeys {
			return nil, err
		}
	}
	el, err := secretKeyFiles(dir)
	if err != nil {
		return nil, err
	}
	s, err := pickSigner(el, want)
	if errors.Is(err, ErrNoSecretKey) && agentKeys && gpgErr != nil {
		return nil, fmt.Errorf("%w: %s in %s, whose private-keys-v1.d needs gpg: %w", ErrNoSecretKey, want, dir, gpgErr)
	}
	if errors.Is(err, ErrNoSecretKey) {
		return nil, fmt.Errorf("%w in %s", err, dir)
	}
	return s, err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// KeyID is the ID of the key that signs, as 16 upper case hex digits; it
// is what Verify reports for this signer's signatures.
func (s *Signer) KeyID() string { return fmt.Sprintf("%016X", s.keyID) }

// Sign returns a binary detached signature (type 0x00, SHA-256) over data.
func (s *Signer) Sign(data []byte) ([]byte, error) {
	cfg := &packet.Config{DefaultHash: crypto.SHA256, SigningKeyId: s.keyID}
	var b bytes.Buffer
	if err := openpgp.DetachSign(&b, s.entity, bytes.NewReader(data), cfg); err != nil {
		return nil, fmt.Errorf("gpg: sign with key %s: %w", s.KeyID(), err)
	}
	return b.Bytes(), nil
}

// normalizeKeyID accepts what ostree passes to gpgme: hex fingerprints and
// key IDs. User IDs are refused so the key used is never a guess.
func normalizeKeyID(id string) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(id))
	s = strings.TrimPrefix(s, "0X")
	switch len(s) {
	case 8, 16, 40, 64:
	default:
		return "", fmt.Errorf("gpg: key ID %q: want a fingerprint or an 8 or 16 digit hex key ID", id)
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return "", fmt.Errorf("gpg: key ID %q: not hexadecimal", id)
		}
	}
	return s, nil
}

func resolveHomedir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv("GNUPGHOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("gpg: find homedir: %w", err)
	}
	return filepath.Join(home, ".gnupg"), nil
}

// secretKeyFiles reads the exported keys kept directly in dir.
func secretKeyFiles(dir string) (openpgp.EntityList, error) {
	var files []string
	if _, err := os.Stat(filepath.Join(dir, "secring.gpg")); err == nil {
		files = append(files, filepath.Join(dir, "secring.gpg"))
	}
	for _, pat := range []string{"*.asc", "*.key"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("gpg: list %s: %w", dir, err)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	var el openpgp.EntityList
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("gpg: secret keys: %w", err)
		}
		fe, err := readEntities(data)
		if err != nil {
			return nil, fmt.Errorf("gpg: secret keys %s: %w", f, err)
		}
		el = append(el, fe...)
	}
	return el, nil
}

// exportWithGPG asks gpg-agent, through gpg, for the key in OpenPGP form.
// An empty loopback passphrase unlocks only unprotected keys.
func exportWithGPG(gpg, dir, want string) (openpgp.EntityList, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(gpg, "--homedir", dir, "--batch", "--no-tty", "--pinentry-mode", "loopback",
		"--passphrase", "", "--export-secret-keys", "0x"+want)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// Untranslated messages, so the passphrase case can be recognized.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANGUAGE=C")
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if strings.Contains(strings.ToLower(msg), "passphrase") {
			return nil, fmt.Errorf("%w: %s in %s: %s", ErrProtectedKey, want, dir, msg)
		}
		return nil, fmt.Errorf("gpg: export secret key %s from %s: %w: %s", want, dir, err, msg)
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("%w: %s in %s", ErrNoSecretKey, want, dir)
	}
	el, err := readEntities(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("gpg: secret key %s exported from %s: %w", want, dir, err)
	}
	return el, nil
}

// matches reports whether pk is named by want (normalized hex).
func matches(pk *packet.PublicKey, want string) bool {
	fp := fmt.Sprintf("%X", pk.Fingerprint)
	switch len(want) {
	case 8:
		return fmt.Sprintf("%08X", uint32(pk.KeyId)) == want
	case 16:
		return fmt.Sprintf("%016X", pk.KeyId) == want
	}
	return fp == want
}

// keyIn reports whether e holds the key want, and which subkey it names;
// zero (the primary) lets go-crypto pick the newest signing subkey.
func keyIn(e *openpgp.Entity, want string) (uint64, bool) {
	if matches(e.PrimaryKey, want) {
		return 0, true
	}
	for _, sk := range e.Subkeys {
		if matches(sk.PublicKey, want) {
			return sk.PublicKey.KeyId, true
		}
	}
	return 0, false
}

// pickSigner chooses the signing key among entities holding secret keys.
func pickSigner(el openpgp.EntityList, want string) (*Signer, error) {
	now := time.Now()
	for _, e := range el {
		id, ok := keyIn(e, want)
		if !ok {
			continue
		}
		if e.PrivateKey == nil {
			continue // public copy only; the secret may be elsewhere
		}
		k, ok := e.SigningKeyById(now, id)
		if !ok {
			return nil, fmt.Errorf("gpg: key %s has no usable signing key (expired, revoked or not for signing)", want)
		}
		if k.PrivateKey == nil || k.PrivateKey.Dummy() {
			return nil, fmt.Errorf("%w: %s: only a stub of signing key %016X is present", ErrNoSecretKey, want, k.PublicKey.KeyId)
		}
		if k.PrivateKey.Encrypted {
			// Some tools protect with an empty passphrase; gpg would then
			// not have asked either.
			if err := k.PrivateKey.Decrypt([]byte{}); err != nil {
				return nil, fmt.Errorf("%w: %016X", ErrProtectedKey, k.PublicKey.KeyId)
			}
		}
		return &Signer{entity: e, keyID: k.PublicKey.KeyId}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNoSecretKey, want)
}
