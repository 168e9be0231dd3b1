package gpg

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// These tests use keys made by go-crypto so they run without gpg; the
// GnuPG and OSTree interop tests are in interop_test.go.

func newEntity(t testing.TB, name string, cfg *packet.Config) *openpgp.Entity {
	t.Helper()
	if cfg == nil {
		cfg = &packet.Config{}
	}
	cfg.Algorithm = packet.PubKeyAlgoEdDSA
	e, err := openpgp.NewEntity(name, "", name+"@example.com", cfg)
	if err != nil {
		t.Fatalf("new entity %s: %v", name, err)
	}
	return e
}

func publicBytes(t testing.TB, es ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatalf("serialize: %v", err)
		}
	}
	return b.Bytes()
}

func armored(t *testing.T, blockType string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func secretBytes(t *testing.T, e *openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&b, nil); err != nil {
		t.Fatalf("serialize secret: %v", err)
	}
	return b.Bytes()
}

func keyring(t testing.TB, es ...*openpgp.Entity) *Keyring {
	t.Helper()
	k, err := ParseKeyring(publicBytes(t, es...))
	if err != nil {
		t.Fatalf("parse keyring: %v", err)
	}
	return k
}

func detach(t testing.TB, e *openpgp.Entity, data []byte, cfg *packet.Config, text bool) []byte {
	t.Helper()
	var b bytes.Buffer
	sign := openpgp.DetachSign
	if text {
		sign = openpgp.DetachSignText
	}
	if err := sign(&b, e, bytes.NewReader(data), cfg); err != nil {
		t.Fatalf("sign: %v", err)
	}
	return b.Bytes()
}

func signingID(t *testing.T, e *openpgp.Entity) string {
	t.Helper()
	k, ok := e.SigningKey(time.Now())
	if !ok {
		t.Fatal("no signing key")
	}
	return k.PublicKey.KeyIdString()
}

func TestVerify(t *testing.T) {
	data := []byte("commit bytes\x00\x01\r\n")
	a, b := newEntity(t, "a", nil), newEntity(t, "b", nil)
	withSub := newEntity(t, "sub", nil)
	if err := withSub.AddSigningSubkey(nil); err != nil {
		t.Fatal(err)
	}
	// Keys made in the past: one with a one minute lifetime, one valid
	// still, to sign with a one minute signature lifetime.
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	shortLived := newEntity(t, "short", &packet.Config{Time: past, KeyLifetimeSecs: 60})
	old := newEntity(t, "old", &packet.Config{Time: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	revoked := newEntity(t, "revoked", nil)
	revokedSig := detach(t, revoked, data, nil, false)
	if err := revoked.RevokeKey(packet.KeySuperseded, "test", nil); err != nil {
		t.Fatal(err)
	}
	ring := keyring(t, a, withSub, shortLived, old, revoked)

	sigA := detach(t, a, data, nil, false)
	sigB := detach(t, b, data, nil, false)
	tests := []struct {
		name    string
		data    []byte
		sigs    [][]byte
		want    []string
		wantErr error
		errHas  string
	}{
		{name: "valid", data: data, sigs: [][]byte{sigA}, want: []string{signingID(t, a)}},
		{name: "text signature", data: data, sigs: [][]byte{detach(t, a, data, nil, true)}, want: []string{signingID(t, a)}},
		{name: "subkey", data: data, sigs: [][]byte{detach(t, withSub, data, nil, false)}, want: []string{signingID(t, withSub)}},
		{name: "one of two known", data: data, sigs: [][]byte{sigB, sigA}, want: []string{signingID(t, a)}},
		{name: "two packets in one blob", data: data, sigs: [][]byte{append(append([]byte{}, sigB...), sigA...)}, want: []string{signingID(t, a)}},
		{name: "same key twice", data: data, sigs: [][]byte{sigA, detach(t, a, data, nil, false)}, want: []string{signingID(t, a)}},
		{name: "tampered", data: []byte("commit bytes!"), sigs: [][]byte{sigA}, wantErr: ErrBadSignature},
		{name: "unknown key", data: data, sigs: [][]byte{sigB}, wantErr: ErrUnknownKey, errHas: signingID(t, b)},
		{name: "bad wins over unknown", data: []byte("x"), sigs: [][]byte{sigB, sigA}, wantErr: ErrBadSignature},
		{name: "nil", data: data, sigs: nil, wantErr: ErrNoSignatures},
		{name: "empty blob", data: data, sigs: [][]byte{{}}, wantErr: ErrNoSignatures},
		{name: "garbage", data: data, sigs: [][]byte{[]byte("garbage")}, wantErr: ErrBadSignature},
		{name: "not a signature", data: data, sigs: [][]byte{publicBytes(t, a)}, wantErr: ErrBadSignature},
		{name: "expired signature", data: data, sigs: [][]byte{detach(t, old, data, &packet.Config{Time: past, SigLifetimeSecs: 60}, false)}, wantErr: ErrExpired},
		{name: "expired key", data: data, sigs: [][]byte{detach(t, shortLived, data, &packet.Config{Time: func() time.Time { return past().Add(time.Second) }}, false)}, wantErr: ErrExpired},
		{name: "revoked key", data: data, sigs: [][]byte{revokedSig}, wantErr: ErrRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ring.Verify(tc.data, tc.sigs)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Verify error %q does not name %q", err, tc.errHas)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseKeyring(t *testing.T) {
	a, b := newEntity(t, "a", nil), newEntity(t, "b", nil)
	pubA, pubB := publicBytes(t, a), publicBytes(t, b)
	tests := []struct {
		name    string
		data    []byte
		wantLen int
		wantErr bool
	}{
		{name: "binary", data: pubA, wantLen: 1},
		{name: "binary two", data: append(append([]byte{}, pubA...), pubB...), wantLen: 2},
		{name: "armored", data: armored(t, openpgp.PublicKeyType, pubA), wantLen: 1},
		{name: "armored blocks with text around", data: bytes.Join([][]byte{
			[]byte("key a:\n"), armored(t, openpgp.PublicKeyType, pubA), []byte("\nkey b:\n"), armored(t, openpgp.PublicKeyType, pubB), []byte("\n"),
		}, nil), wantLen: 2},
		{name: "byte order mark", data: append([]byte("\xef\xbb\xbf"), armored(t, openpgp.PublicKeyType, pubA)...), wantLen: 1},
		{name: "secret key", data: secretBytes(t, a), wantLen: 1},
		{name: "armored secret key", data: armored(t, openpgp.PrivateKeyType, secretBytes(t, b)), wantLen: 1},
		{name: "duplicate key", data: append(append([]byte{}, pubA...), pubA...), wantLen: 1},
		{name: "empty", data: nil, wantLen: 0},
		{name: "text", data: []byte("not a key\n"), wantErr: true},
		{name: "armored signature", data: armored(t, openpgp.SignatureType, detach(t, a, []byte("x"), nil, false)), wantErr: true},
		{name: "truncated", data: pubA[:len(pubA)/2], wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeyring(tc.data)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseKeyring succeeded with %d keys, want error", k.Len())
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyring: %v", err)
			}
			if k.Len() != tc.wantLen {
				t.Fatalf("Len = %d, want %d", k.Len(), tc.wantLen)
			}
			// Export never carries secrets and round-trips byte for byte.
			exp := k.Export()
			r := packet.NewReader(bytes.NewReader(exp))
			for {
				p, err := r.Next()
				if err != nil {
					break
				}
				if _, ok := p.(*packet.PrivateKey); ok {
					t.Fatal("Export contains a secret key packet")
				}
			}
			k2, err := ParseKeyring(exp)
			if err != nil {
				t.Fatalf("ParseKeyring(Export()): %v", err)
			}
			if !bytes.Equal(k2.Export(), exp) {
				t.Fatal("Export is not stable across a round trip")
			}
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	a, b, c := newEntity(t, "a", nil), newEntity(t, "b", nil), newEntity(t, "c", nil)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("keys/a.gpg", publicBytes(t, a))
	write("keys/b.asc", armored(t, openpgp.PublicKeyType, publicBytes(t, b)))
	write("keys/notes.txt", []byte("ignored"))
	write("keys/sub/c.gpg", publicBytes(t, c)) // not recursed into
	fileC := write("c.asc", armored(t, openpgp.PublicKeyType, publicBytes(t, c)))
	bad := write("bad/x.gpg", []byte("junk"))
	if err := os.Symlink(filepath.Join(dir, "c.asc"), filepath.Join(keys, "link.asc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing", filepath.Join(keys, "dangling.gpg")); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope.gpg")

	tests := []struct {
		name    string
		paths   []string
		wantLen int
		errHas  string
	}{
		{name: "directory", paths: []string{keys}, wantLen: 3},
		{name: "file", paths: []string{fileC}, wantLen: 1},
		{name: "file and directory overlap", paths: []string{fileC, keys}, wantLen: 3},
		{name: "none", paths: nil, wantLen: 0},
		{name: "missing", paths: []string{missing}, errHas: missing},
		{name: "bad file", paths: []string{filepath.Dir(bad)}, errHas: bad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadKeyring(tc.paths...)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("LoadKeyring error = %v, want one naming %s", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKeyring: %v", err)
			}
			if k.Len() != tc.wantLen {
				t.Fatalf("Len = %d, want %d", k.Len(), tc.wantLen)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	a, b := newEntity(t, "a", nil), newEntity(t, "b", nil)
	data := []byte("summary")
	sigB := detach(t, b, data, nil, false)

	k := keyring(t, a)
	if _, err := k.Verify(data, [][]byte{sigB}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("before merge: %v, want ErrUnknownKey", err)
	}
	k.Merge(keyring(t, b, a))
	k.Merge(nil)
	if k.Len() != 2 {
		t.Fatalf("Len after merge = %d, want 2", k.Len())
	}
	if _, err := k.Verify(data, [][]byte{sigB}); err != nil {
		t.Fatalf("after merge: %v", err)
	}
	var zero *Keyring
	if zero.Len() != 0 || len(zero.Export()) != 0 {
		t.Fatal("nil keyring is not empty")
	}
	if _, err := zero.Verify(data, [][]byte{sigB}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("nil keyring Verify: %v, want ErrUnknownKey", err)
	}
}

func TestLoadSignerFiles(t *testing.T) {
	a, b, p := newEntity(t, "a", nil), newEntity(t, "b", nil), newEntity(t, "p", nil)
	if err := a.AddSigningSubkey(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.EncryptPrivateKeys([]byte("secret"), nil); err != nil {
		t.Fatal(err)
	}
	pubOnly := newEntity(t, "pubonly", nil)
	home := t.TempDir()
	for name, data := range map[string][]byte{
		"secring.gpg": secretBytes(t, a),
		"b.asc":       armored(t, openpgp.PrivateKeyType, secretBytes(t, b)),
		"p.key":       secretBytes(t, p),
		"pub.asc":     armored(t, openpgp.PublicKeyType, publicBytes(t, pubOnly)),
	} {
		if err := os.WriteFile(filepath.Join(home, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ring := keyring(t, a, b, p)
	aSub := a.Subkeys[len(a.Subkeys)-1].PublicKey
	longA := strings.ToLower(a.PrimaryKey.KeyIdString())

	tests := []struct {
		name    string
		homedir string
		env     string // GNUPGHOME
		keyID   string
		wantID  string
		wantErr error
	}{
		{name: "primary fingerprint picks signing subkey", homedir: home, keyID: strings.ToLower(fmt.Sprintf("%X", a.PrimaryKey.Fingerprint)), wantID: aSub.KeyIdString()},
		{name: "lower case long ID", homedir: home, keyID: longA, wantID: aSub.KeyIdString()},
		{name: "subkey ID", homedir: home, keyID: aSub.KeyIdString(), wantID: aSub.KeyIdString()},
		{name: "armored short ID with 0x", homedir: home, keyID: "0x" + b.PrimaryKey.KeyIdShortString(), wantID: signingID(t, b)},
		{name: "GNUPGHOME", env: home, keyID: b.PrimaryKey.KeyIdString(), wantID: signingID(t, b)},
		{name: "protected", homedir: home, keyID: p.PrimaryKey.KeyIdString(), wantErr: ErrProtectedKey},
		{name: "unknown", homedir: home, keyID: "0123456789ABCDEF", wantErr: ErrNoSecretKey},
		{name: "public only", homedir: home, keyID: pubOnly.PrimaryKey.KeyIdShortString(), wantErr: ErrNoSecretKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GNUPGHOME", tc.env)
			s, err := LoadSigner(tc.homedir, tc.keyID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("LoadSigner error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			if s.KeyID() != tc.wantID {
				t.Fatalf("KeyID = %s, want %s", s.KeyID(), tc.wantID)
			}
			data := []byte("a commit")
			sig, err := s.Sign(data)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			checkSigPacket(t, sig)
			ids, err := ring.Verify(data, [][]byte{sig})
			if err != nil || !reflect.DeepEqual(ids, []string{tc.wantID}) {
				t.Fatalf("Verify = %v, %v; want [%s]", ids, err, tc.wantID)
			}
		})
	}
}

func TestLoadSignerErrors(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no gpg
	home := t.TempDir()
	missing := filepath.Join(home, "missing")
	if err := os.Mkdir(filepath.Join(home, "private-keys-v1.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, homedir, keyID, errHas string
	}{
		{name: "not hex", homedir: home, keyID: "test@example.com", errHas: "key ID"},
		{name: "wrong length", homedir: home, keyID: "ABCDEF", errHas: "key ID"},
		{name: "missing homedir", homedir: missing, keyID: "ABCDEF01", errHas: missing},
		{name: "agent keys without gpg", homedir: home, keyID: "ABCDEF01", errHas: "needs gpg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadSigner(tc.homedir, tc.keyID); err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("LoadSigner error = %v, want one mentioning %q", err, tc.errHas)
			}
		})
	}
}

// checkSigPacket asserts the form OSTree expects: one binary document
// signature packet hashed with SHA-256.
func checkSigPacket(t *testing.T, sig []byte) {
	t.Helper()
	r := packet.NewReader(bytes.NewReader(sig))
	p, err := r.Next()
	if err != nil {
		t.Fatalf("parse signature: %v", err)
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		t.Fatalf("signature is a %T", p)
	}
	if s.SigType != packet.SigTypeBinary || s.Hash != crypto.SHA256 {
		t.Fatalf("signature type 0x%02x hash %v, want 0x00 SHA-256", uint8(s.SigType), s.Hash)
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("more than one packet in the signature")
	}
}
