// Package sign makes and checks the signatures ostree keeps beside GPG's
// in a commit's (or summary's) detached metadata: ed25519, and a dummy
// kind for tests whose "signature" is the key itself. Keys are base64
// text, as users pass and keep them: an ed25519 secret key is the 64
// bytes of seed and public key, a public key its 32 bytes.
package sign

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Default is the signature type used when none is named.
const Default = "ed25519"

// ErrNoValid is a verification that found no signature to accept.
var ErrNoValid = errors.New("No valid signatures found")

// Engine is one kind of signature.
type Engine interface {
	Name() string
	// MetaKey is the detached-metadata key its signatures are kept under
	// (an array of byte strings).
	MetaKey() string
	// Sign signs data with a secret key in its text form.
	Sign(secret string, data []byte) ([]byte, error)
	// Verify accepts data if one of sigs was made by one of pubs (text
	// forms), and says by which.
	Verify(pubs []string, data []byte, sigs [][]byte) (string, error)
}

// Lookup is the engine of a signature type. The dummy type signs
// nothing; it only works when dummyOK, for tests of the machinery.
func Lookup(name string, dummyOK bool) (Engine, error) {
	switch name {
	case "ed25519":
		return ed25519Engine{}, nil
	case "dummy":
		return dummyEngine{enabled: dummyOK}, nil
	}
	return nil, fmt.Errorf("Requested signature type is not implemented: %q", name)
}

// Names are the signature types, as ostree knows them.
func Names() []string { return []string{"ed25519", "dummy"} }

type ed25519Engine struct{}

func (ed25519Engine) Name() string    { return "ed25519" }
func (ed25519Engine) MetaKey() string { return "ostree.sign.ed25519" }

func (ed25519Engine) Sign(secret string, data []byte) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secret))
	if err != nil || len(b) != ed25519.PrivateKeySize {
		return nil, errors.New("ed25519: secret key is not the base64 of 64 bytes")
	}
	sk := ed25519.PrivateKey(b)
	// The key's second half must be the public key of its seed, or
	// signatures would name a key that did not make them.
	if !bytes.Equal(ed25519.NewKeyFromSeed(sk.Seed()), sk) {
		return nil, errors.New("ed25519: secret key's public half does not match its seed")
	}
	return ed25519.Sign(sk, data), nil
}

func (ed25519Engine) Verify(pubs []string, data []byte, sigs [][]byte) (string, error) {
	if len(pubs) == 0 {
		return "", errors.New("ed25519: no public keys to verify with")
	}
	if len(sigs) == 0 {
		return "", errors.New("ed25519: no signatures found")
	}
	tried, bad := 0, 0
	for _, p := range pubs {
		pk, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p))
		if err != nil || len(pk) != ed25519.PublicKeySize {
			bad++ // one bad line in a key file does not void the others
			continue
		}
		for _, s := range sigs {
			tried++
			if len(s) == ed25519.SignatureSize && ed25519.Verify(ed25519.PublicKey(pk), data, s) {
				return fmt.Sprintf("ed25519: Signature verified successfully with key '%s'", strings.TrimSpace(p)), nil
			}
		}
	}
	if bad == len(pubs) {
		return "", fmt.Errorf("ed25519: no valid public keys to verify with: %d not the base64 of 32 bytes", bad)
	}
	if len(pubs) == 1 {
		return "", noValid(fmt.Sprintf("ed25519: Signature couldn't be verified with: key '%s'", strings.TrimSpace(pubs[0])))
	}
	return "", noValid(fmt.Sprintf("ed25519: Signature couldn't be verified; tried %d keys", tried))
}

// noValid is a verification failure of its own words that is ErrNoValid.
type noValid string

func (e noValid) Error() string        { return string(e) }
func (e noValid) Is(target error) bool { return target == ErrNoValid }

// dummyEngine's signature is the key's text: it proves nothing, and so
// works only where enabled.
type dummyEngine struct{ enabled bool }

func (dummyEngine) Name() string    { return "dummy" }
func (dummyEngine) MetaKey() string { return "ostree.sign.dummy" }

func (d dummyEngine) Sign(secret string, data []byte) ([]byte, error) {
	return []byte(secret), nil
}

func (d dummyEngine) Verify(pubs []string, data []byte, sigs [][]byte) (string, error) {
	if !d.enabled {
		return "", fmt.Errorf("dummy: the dummy signature type is only for testing arbor (OSTREE_DUMMY_SIGN_ENABLED): %w", ErrNoValid)
	}
	for _, p := range pubs {
		for _, s := range sigs {
			if string(s) == p {
				return "dummy: Signature verified", nil
			}
		}
	}
	if len(sigs) > 0 {
		return "", noValid(fmt.Sprintf("dummy: incorrect signatures found: %d", len(sigs)))
	}
	return "", fmt.Errorf("dummy: %w", ErrNoValid)
}

// ReadKeysFile reads a file of keys, one a line; blank lines are skipped.
func ReadKeysFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			keys = append(keys, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return keys, nil
}

// SystemDirs are where trusted and revoked keys are looked for when none
// are named.
func SystemDirs() []string { return []string{"/etc/ostree", "/usr/share/ostree"} }

// DirKeys are the trusted keys of an engine kept in dir, as
// trusted.NAME and the files of trusted.NAME.d, less those in
// revoked.NAME and revoked.NAME.d. Missing files are no keys.
func DirKeys(dir, name string) ([]string, error) {
	read := func(kind string) ([]string, error) {
		var keys []string
		files := []string{filepath.Join(dir, kind+"."+name)}
		ents, err := os.ReadDir(filepath.Join(dir, kind+"."+name+".d"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("keys dir: %w", err)
		}
		var more []string
		for _, e := range ents {
			more = append(more, filepath.Join(dir, kind+"."+name+".d", e.Name()))
		}
		sort.Strings(more)
		for _, f := range append(files, more...) {
			if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			k, err := ReadKeysFile(f)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k...)
		}
		return keys, nil
	}
	trusted, err := read("trusted")
	if err != nil {
		return nil, err
	}
	revoked, err := read("revoked")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range trusted {
		if !contains(revoked, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
