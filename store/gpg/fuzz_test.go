package gpg

import (
	"bytes"
	"testing"
)

// FuzzVerify: signatures come from the network (.commitmeta, summary.sig);
// no bytes may make verification panic, and only the real signature over
// the real data may pass.
func FuzzVerify(f *testing.F) {
	e := newEntity(f, "Fuzz", nil)
	k := keyring(f, e)
	data := []byte("the exact bytes of a commit")
	good := detach(f, e, data, nil, false)
	f.Add(data, good)
	f.Add([]byte("other"), good)
	f.Add(data, good[:len(good)/2])
	f.Add(data, []byte{0x88, 0x00})
	f.Fuzz(func(t *testing.T, d, sig []byte) {
		ids, err := k.Verify(d, [][]byte{sig})
		if err == nil && (!bytes.Equal(d, data) || len(ids) == 0) {
			t.Fatalf("accepted a signature over %q", d)
		}
	})
}

// FuzzParseKeyring: keyrings come from files users are handed.
func FuzzParseKeyring(f *testing.F) {
	f.Add(publicBytes(f, newEntity(f, "Seed", nil)))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyring(b)
		if err != nil {
			return
		}
		if _, err := ParseKeyring(k.Export()); err != nil {
			t.Fatalf("exported keyring does not parse: %v", err)
		}
	})
}
