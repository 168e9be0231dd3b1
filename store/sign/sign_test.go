package sign

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newKeys(t *testing.T) (pub, secret string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pk), base64.StdEncoding.EncodeToString(sk)
}

func TestEd25519(t *testing.T) {
	e, err := Lookup("ed25519", false)
	if err != nil {
		t.Fatal(err)
	}
	pub, secret := newKeys(t)
	other, _ := newKeys(t)
	data := []byte("commit")
	sig, err := e.Sign(secret, data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pubs    []string
		data    []byte
		sigs    [][]byte
		wantErr string
	}{
		{name: "good", pubs: []string{pub}, data: data, sigs: [][]byte{sig}},
		{name: "good among others", pubs: []string{other, other, pub}, data: data, sigs: [][]byte{[]byte("short"), sig}},
		{name: "wrong key", pubs: []string{other}, data: data, sigs: [][]byte{sig}, wantErr: "couldn't be verified with: key"},
		{name: "changed data", pubs: []string{pub}, data: []byte("Commit"), sigs: [][]byte{sig}, wantErr: "couldn't be verified"},
		{name: "no keys", data: data, sigs: [][]byte{sig}, wantErr: "no public keys"},
		{name: "no signatures", pubs: []string{pub}, data: data, wantErr: "no signatures"},
		{name: "bad key text", pubs: []string{"!!"}, data: data, sigs: [][]byte{sig}, wantErr: "not the base64 of 32 bytes"},
		{name: "bad key among good", pubs: []string{"!!", pub}, data: data, sigs: [][]byte{sig}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := e.Verify(tt.pubs, tt.data, tt.sigs)
			if tt.wantErr == "" {
				if err != nil || !strings.HasPrefix(msg, "ed25519: Signature verified successfully with key") {
					t.Fatalf("Verify = %q, %v", msg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Verify error = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
	// A secret key whose public half is not its seed's is refused.
	b, _ := base64.StdEncoding.DecodeString(secret)
	b[63] ^= 1
	if _, err := e.Sign(base64.StdEncoding.EncodeToString(b), data); err == nil {
		t.Error("signed with a mismatched secret key")
	}
}

func TestDummy(t *testing.T) {
	on, _ := Lookup("dummy", true)
	off, _ := Lookup("dummy", false)
	sig, _ := on.Sign("k", []byte("x"))
	if _, err := on.Verify([]string{"k"}, []byte("x"), [][]byte{sig}); err != nil {
		t.Errorf("enabled dummy: %v", err)
	}
	if _, err := on.Verify([]string{"j"}, []byte("x"), [][]byte{sig}); !errors.Is(err, ErrNoValid) {
		t.Errorf("wrong dummy key: %v", err)
	}
	if _, err := off.Verify([]string{"k"}, []byte("x"), [][]byte{sig}); !errors.Is(err, ErrNoValid) {
		t.Errorf("disabled dummy verified: %v", err)
	}
	if _, err := Lookup("trustme", true); err == nil || !strings.Contains(err.Error(), "not implemented") {
		t.Errorf("unknown type: %v", err)
	}
}

func TestDirKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("trusted.ed25519", "A\n\nB\n")
	write("trusted.ed25519.d/x", "C\n")
	write("revoked.ed25519.d/y", "B\n")
	write("trusted.dummy", "D\n")
	got, err := DirKeys(dir, "ed25519")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "A,C" {
		t.Errorf("DirKeys = %q, want A,C", got)
	}
	if got, err := DirKeys(t.TempDir(), "ed25519"); err != nil || len(got) != 0 {
		t.Errorf("empty dir: %q, %v", got, err)
	}
	if _, err := ReadKeysFile(dir); err == nil {
		t.Error("read a directory as a keys file")
	}
}
