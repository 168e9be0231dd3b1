// Package gpg makes and checks OSTree-compatible OpenPGP signatures: binary
// detached signatures over the exact bytes of a .commit or summary file, as
// stored in ostree.gpgsigs. GVariant wrapping is left to the caller.
package gpg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Verification failures. Verify wraps the most telling one, in the order
// ErrBadSignature, ErrRevoked, ErrExpired, ErrUnknownKey.
var (
	ErrNoSignatures = errors.New("gpg: no signatures")
	ErrUnknownKey   = errors.New("gpg: public key not found: signed only by keys not in the keyring")
	// ErrBadSignature also covers malformed signatures and keys that may
	// not make data signatures.
	ErrBadSignature = errors.New("gpg: bad signature")
	ErrExpired      = errors.New("gpg: signature or key expired")
	ErrRevoked      = errors.New("gpg: key revoked")
)

// Keyring is a set of trusted public keys. It is not changed by Verify or
// Export, so those may run concurrently; Merge may not.
type Keyring struct {
	keys []key
}

type key struct {
	entity *openpgp.Entity
	// public holds the key's packets, serialized once at load so Export is
	// deterministic and never mutates shared signature state.
	public []byte
}

// ParseKeyring reads armored or binary OpenPGP keys. Secret keys are
// accepted and reduced to their public parts. Empty data is an empty keyring.
func ParseKeyring(data []byte) (*Keyring, error) {
	el, err := readEntities(data)
	if err != nil {
		return nil, err
	}
	k := &Keyring{}
	for _, e := range el {
		e.PrivateKey = nil
		for i := range e.Subkeys {
			e.Subkeys[i].PrivateKey = nil
		}
		var b bytes.Buffer
		if err := serializePublic(&b, e); err != nil {
			return nil, fmt.Errorf("gpg: serialize key %X: %w", e.PrimaryKey.Fingerprint, err)
		}
		k.add(key{e, b.Bytes()})
	}
	return k, nil
}

// LoadKeyring reads keyring files, and from directories the regular files
// named *.gpg or *.asc, as OSTree does for gpgkeypath.
func LoadKeyring(paths ...string) (*Keyring, error) {
	k := &Keyring{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("gpg: keyring: %w", pathErr("stat", p, err))
		}
		files := []string{p}
		if fi.IsDir() {
			if files, err = KeyFiles(p); err != nil {
				return nil, err
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("gpg: keyring: %w", pathErr("open", f, err))
			}
			fk, err := ParseKeyring(data)
			if err != nil {
				return nil, fmt.Errorf("gpg: keyring %s: %w", f, err)
			}
			k.Merge(fk)
		}
	}
	return k, nil
}

// KeyFiles are the key files of a key directory: regular files named
// *.gpg or *.asc, but GnuPG's trust and secret databases, in name order.
func KeyFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("gpg: keyring dir: %w", pathErr("opendir", dir, err))
	}
	var out []string
	for _, de := range ents {
		name := de.Name()
		if !strings.HasSuffix(name, ".gpg") && !strings.HasSuffix(name, ".asc") {
			continue
		}
		if name == "trustdb.gpg" || name == "secring.gpg" {
			continue // GnuPG's trust and secret databases, as ostree skips them
		}
		p := filepath.Join(dir, name)
		// Stat follows symlinks, which key directories often contain.
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// Len is the number of primary keys.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// Export returns the keys as a binary keyring, the format of
// <remote>.trustedkeys.gpg. It never contains secret key material.
func (k *Keyring) Export() []byte {
	var b bytes.Buffer
	if k != nil {
		for _, kk := range k.keys {
			b.Write(kk.public)
		}
	}
	return b.Bytes()
}

// Merge adds o's keys. A key already present is replaced, since re-importing
// a key is how a refreshed expiry or new subkey arrives.
func (k *Keyring) Merge(o *Keyring) {
	if o == nil {
		return
	}
	for _, kk := range o.keys {
		k.add(kk)
	}
}

func (k *Keyring) add(kk key) {
	for i, old := range k.keys {
		if bytes.Equal(old.entity.PrimaryKey.Fingerprint, kk.entity.PrimaryKey.Fingerprint) {
			k.keys[i] = kk
			return
		}
	}
	k.keys = append(k.keys, kk)
}

// Verify checks sigs (raw signature packets) over data, succeeding as OSTree
// does when at least one is valid and made by a key (or subkey) in k. It
// returns the IDs of the keys that made the valid signatures, as 16 upper
// case hex digits. Keys and signatures that are expired or revoked now are
// not valid, as with gpg-verify=true.
func (k *Keyring) Verify(data []byte, sigs [][]byte) ([]string, error) {
	now := time.Now()
	var ids, details []string
	var worst error
	rank := map[error]int{nil: 0, ErrUnknownKey: 1, ErrExpired: 2, ErrRevoked: 3, ErrBadSignature: 4}
	record := func(i int, err error) {
		kind := kindOf(err)
		details = append(details, fmt.Sprintf("signature %d: %v", i, err))
		if rank[kind] > rank[worst] {
			worst = kind
		}
	}
	for i, blob := range sigs {
		pr := packet.NewReader(bytes.NewReader(blob))
		for {
			p, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				record(i, fmt.Errorf("parse: %w", err))
				break
			}
			sig, ok := p.(*packet.Signature)
			if !ok {
				record(i, fmt.Errorf("unexpected %T packet", p))
				break
			}
			id, err := k.check(sig, data, now)
			if err != nil {
				record(i, err)
				continue
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > 0 {
		return ids, nil
	}
	if worst == nil {
		return nil, ErrNoSignatures
	}
	return nil, fmt.Errorf("%w: %s", worst, strings.Join(details, "; "))
}

// sigError is why one signature failed, with the class Verify reports.
type sigError struct {
	kind error
	msg  string
}

func (e *sigError) Error() string { return e.msg }
func (e *sigError) Unwrap() error { return e.kind }

func fail(kind error, format string, a ...any) error {
	return &sigError{kind, fmt.Sprintf(format, a...)}
}

// kindOf is the class of a per-signature error; anything unclassified is a
// bad signature.
func kindOf(err error) error {
	var se *sigError
	if errors.As(err, &se) {
		return se.kind
	}
	return ErrBadSignature
}

// check verifies one signature packet, returning the signing key's ID.
func (k *Keyring) check(sig *packet.Signature, data []byte, now time.Time) (string, error) {
	if sig.SigType != packet.SigTypeBinary && sig.SigType != packet.SigTypeText {
		return "", fail(ErrBadSignature, "type 0x%02x is not a document signature", uint8(sig.SigType))
	}
	if sig.IssuerKeyId == nil {
		return "", fail(ErrBadSignature, "no issuer key ID")
	}
	id := fmt.Sprintf("%016X", *sig.IssuerKeyId)
	if (*packet.Config)(nil).RejectHashAlgorithm(sig.Hash) {
		return "", fail(ErrBadSignature, "key %s: hash %v is not accepted", id, sig.Hash)
	}
	keys := k.lookup(sig)
	if len(keys) == 0 {
		return "", fail(ErrUnknownKey, "made by unknown key %s", id)
	}
	var lastErr error
	var who string
	for _, kk := range keys {
		if who == "" && kk.Entity != nil {
			if ident := kk.Entity.PrimaryIdentity(); ident != nil {
				who = ident.Name
			}
		}
		h, err := sig.PrepareVerify()
		if err != nil {
			return "", fail(ErrBadSignature, "key %s: %v", id, err)
		}
		w := h
		if sig.SigType == packet.SigTypeText {
			w = openpgp.NewCanonicalTextHash(h)
		}
		w.Write(data)
		if err := kk.PublicKey.VerifySignature(h, sig); err != nil {
			lastErr = err
			continue
		}
		if err := keyProblem(kk, sig, now); err != nil {
			return "", fail(kindOf(err), "key %s: %v", id, err)
		}
		return id, nil
	}
	// ostree's words first, which scripts look for.
	return "", fail(ErrBadSignature, "BAD signature from %q (key %s): data does not match: %v", who, id, lastErr)
}

// lookup finds the keys that may have made sig, by fingerprint when the
// signature names one, else by key ID.
func (k *Keyring) lookup(sig *packet.Signature) []openpgp.Key {
	match := func(pk *packet.PublicKey) bool {
		if sig.IssuerFingerprint != nil {
			return bytes.Equal(pk.Fingerprint, sig.IssuerFingerprint)
		}
		return pk.KeyId == *sig.IssuerKeyId
	}
	var out []openpgp.Key
	if k == nil {
		return nil
	}
	for _, kk := range k.keys {
		e := kk.entity
		if match(e.PrimaryKey) {
			self, _ := e.PrimarySelfSignature()
			out = append(out, openpgp.Key{Entity: e, PublicKey: e.PrimaryKey, SelfSignature: self, Revocations: e.Revocations})
		}
		for _, sk := range e.Subkeys {
			if match(sk.PublicKey) {
				out = append(out, openpgp.Key{Entity: e, PublicKey: sk.PublicKey, SelfSignature: sk.Sig, Revocations: sk.Revocations})
			}
		}
	}
	return out
}

// keyProblem applies the checks gpg makes beyond the mathematics: usage,
// revocation, expiry and unknown critical notations.
func keyProblem(kk openpgp.Key, sig *packet.Signature, now time.Time) error {
	e := kk.Entity
	primarySig, primaryID := e.PrimarySelfSignature()
	if primarySig == nil || kk.SelfSignature == nil {
		return fail(ErrBadSignature, "no valid self-signature")
	}
	// Keys without key flags predate them and may sign if the algorithm can.
	if ss := kk.SelfSignature; ss.FlagsValid && !ss.FlagSign {
		return fail(ErrBadSignature, "not a signing key")
	}
	bySub := kk.PublicKey != e.PrimaryKey
	toCheck := []*packet.Signature{sig, primarySig}
	if bySub {
		toCheck = append(toCheck, kk.SelfSignature)
		if kk.SelfSignature.EmbeddedSignature != nil {
			toCheck = append(toCheck, kk.SelfSignature.EmbeddedSignature)
		}
	}
	for _, s := range toCheck {
		for _, n := range s.Notations {
			if n.IsCritical {
				return fail(ErrBadSignature, "unknown critical notation %q", n.Name)
			}
		}
	}
	if e.Revoked(now) || (bySub && kk.Revoked(now)) || (primaryID != nil && primaryID.Revoked(now)) {
		return fail(ErrRevoked, "Key revoked")
	}
	if e.PrimaryKey.KeyExpired(primarySig, now) || (bySub && kk.PublicKey.KeyExpired(kk.SelfSignature, now)) {
		return fail(ErrExpired, "Key expired")
	}
	for _, s := range toCheck {
		if s.SigExpired(now) {
			return fail(ErrExpired, "Signature expired: made %s, expired or dated in the future", s.CreationTime.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// readEntities parses binary keys, or every armored key block in data.
func readEntities(data []byte) (openpgp.EntityList, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	// A binary packet stream starts with a header byte with the top bit set;
	// a byte order mark would look like one.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if data[0]&0x80 != 0 {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		return el, nil
	}
	const begin, end = "-----BEGIN PGP ", "-----END PGP "
	var all openpgp.EntityList
	rest := data
	for {
		i := bytes.Index(rest, []byte(begin))
		if i < 0 {
			break
		}
		rest = rest[i:]
		block, err := armor.Decode(bytes.NewReader(rest))
		if err != nil {
			return nil, fmt.Errorf("read armor: %w", err)
		}
		if block.Type != openpgp.PublicKeyType && block.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("armored block is %q, not keys", block.Type)
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, fmt.Errorf("read armored keys: %w", err)
		}
		all = append(all, el...)
		j := bytes.Index(rest, []byte(end))
		if j < 0 {
			break
		}
		rest = rest[j+len(end):]
	}
	if len(all) == 0 {
		return nil, errors.New("no OpenPGP keys found")
	}
	return all, nil
}

// serializePublic is Entity.Serialize with user IDs in a stable order, so
// the same keys always export to the same bytes.
func serializePublic(w io.Writer, e *openpgp.Entity) error {
	if err := e.PrimaryKey.Serialize(w); err != nil {
		return err
	}
	for _, s := range append(append([]*packet.Signature{}, e.Revocations...), e.Signatures...) {
		if err := s.Serialize(w); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(e.Identities))
	for n := range e.Identities {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		id := e.Identities[n]
		if err := id.UserId.Serialize(w); err != nil {
			return err
		}
		for _, s := range id.Signatures {
			if err := s.Serialize(w); err != nil {
				return err
			}
		}
	}
	for _, sk := range e.Subkeys {
		if err := sk.PublicKey.Serialize(w); err != nil {
			return err
		}
		for _, s := range append(append([]*packet.Signature{}, sk.Revocations...), sk.Sig) {
			if err := s.Serialize(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fingerprints are the primary keys' fingerprints, upper case hex, in
// keyring order.
func (k *Keyring) Fingerprints() []string {
	var out []string
	if k != nil {
		for _, kk := range k.keys {
			out = append(out, fmt.Sprintf("%X", kk.entity.PrimaryKey.Fingerprint))
		}
	}
	return out
}

// Select is the keys whose fingerprint or key ID (long or short) is one
// of ids, as gpg matches them; an error names an ID no key has.
func (k *Keyring) Select(ids []string) (*Keyring, error) {
	out := &Keyring{}
	for _, id := range ids {
		want := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(id, "0x"), "0X"))
		found := false
		for _, kk := range k.keys {
			if fpr := fmt.Sprintf("%X", kk.entity.PrimaryKey.Fingerprint); len(want) >= 8 && strings.HasSuffix(fpr, want) {
				out.add(kk)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("gpg: no key %s in the keyring", id)
		}
	}
	return out, nil
}

// Has reports whether a key of fingerprint fpr (upper case hex) is in k.
func (k *Keyring) Has(fpr string) bool {
	return slices.Contains(k.Fingerprints(), fpr)
}

// pathError is a file's error as the system call and the path, then
// strerror's words, capital first: the form users (and their scripts)
// know from other tools. An empty path shows as "()".
type pathError struct {
	op, path string
	err      error
}

func pathErr(op, path string, err error) error { return &pathError{op, path, err} }

func (e *pathError) Error() string {
	msg := e.err.Error()
	var errno syscall.Errno
	if errors.As(e.err, &errno) {
		msg = errno.Error()
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return fmt.Sprintf("%s(%s): %s", e.op, e.path, msg)
}

func (e *pathError) Unwrap() error { return e.err }
