package gpg

import (
	"strings"
	"testing"
)

func TestCheckDescribe(t *testing.T) {
	data := []byte("commit bytes")
	a, stranger := newEntity(t, "a", nil), newEntity(t, "stranger", nil)
	withSub := newEntity(t, "sub", nil)
	if err := withSub.AddSigningSubkey(nil); err != nil {
		t.Fatal(err)
	}
	k := keyring(t, a, withSub)
	tests := []struct {
		name  string
		sigs  [][]byte
		data  []byte
		valid []bool
		want  [][]string // what each signature's description must hold
		not   []string
	}{
		{
			name: "good", sigs: [][]byte{detach(t, a, data, nil, false)}, data: data,
			valid: []bool{true}, want: [][]string{{`Good signature from "a <a@example.com>"`, "key ID " + signingID(t, a)}},
			not: []string{"Primary key ID"},
		},
		{
			name: "unknown key", sigs: [][]byte{detach(t, stranger, data, nil, false)}, data: data,
			valid: []bool{false}, want: [][]string{{"Can't check signature: public key not found"}},
		},
		{
			name: "bad data", sigs: [][]byte{detach(t, a, data, nil, false)}, data: []byte("other"),
			valid: []bool{false}, want: [][]string{{`BAD signature from "a <a@example.com>"`}},
		},
		{
			name: "subkey names its primary", sigs: [][]byte{detach(t, withSub, data, nil, false)}, data: data,
			valid: []bool{true}, want: [][]string{{"Good signature", "Primary key ID " + withSub.PrimaryKey.KeyIdString()}},
		},
		{
			name:  "each signature counts",
			sigs:  [][]byte{detach(t, a, data, nil, false), detach(t, stranger, data, nil, false)},
			data:  data,
			valid: []bool{true, false}, want: [][]string{{"Good signature"}, {"public key not found"}},
		},
		{name: "garbage is no signature", sigs: [][]byte{[]byte("borkbork")}, data: data},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := k.Check(tt.data, tt.sigs)
			if len(res) != len(tt.valid) {
				t.Fatalf("%d results, want %d", len(res), len(tt.valid))
			}
			for i, r := range res {
				if r.Valid != tt.valid[i] {
					t.Errorf("signature %d: valid = %v, want %v", i, r.Valid, tt.valid[i])
				}
				d := r.Describe("  ")
				if !strings.HasPrefix(d, "  Signature made ") {
					t.Errorf("signature %d: description %q does not start with the signature's date", i, d)
				}
				for _, w := range tt.want[i] {
					if !strings.Contains(d, w) {
						t.Errorf("signature %d: description %q lacks %q", i, d, w)
					}
				}
				for _, n := range tt.not {
					if strings.Contains(d, n) {
						t.Errorf("signature %d: description %q has %q", i, d, n)
					}
				}
			}
		})
	}
}

func TestKeys(t *testing.T) {
	withSub := newEntity(t, "sub", nil)
	if err := withSub.AddSigningSubkey(nil); err != nil {
		t.Fatal(err)
	}
	keys := keyring(t, withSub).Keys()
	if len(keys) != 1 {
		t.Fatalf("%d keys, want 1", len(keys))
	}
	k := keys[0]
	if k.Fingerprint != strings.ToUpper(withSub.PrimaryKey.KeyIdString()) && !strings.HasSuffix(k.Fingerprint, strings.ToUpper(withSub.PrimaryKey.KeyIdString())) {
		t.Errorf("fingerprint %s does not end in the key ID %s", k.Fingerprint, withSub.PrimaryKey.KeyIdString())
	}
	if len(k.UIDs) != 1 || k.UIDs[0].Text != "sub <sub@example.com>" || k.UIDs[0].Email != "sub@example.com" || k.UIDs[0].Revoked {
		t.Errorf("UIDs = %+v", k.UIDs)
	}
	if len(k.Subkeys) != len(withSub.Subkeys) || k.Revoked {
		t.Errorf("%d subkeys, revoked %v; want %d, false", len(k.Subkeys), k.Revoked, len(withSub.Subkeys))
	}
}
