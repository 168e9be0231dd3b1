package delta

import (
	"bytes"
	"errors"
	"testing"
)

func TestSignSuperblock(t *testing.T) {
	inner := []byte("the superblock's bytes")
	sign := func(tag string) SuperblockSigner {
		return SuperblockSigner{Key: "ostree.sign." + tag, Sign: func(b []byte) ([]byte, error) { return append([]byte(tag+":"), b...), nil }}
	}
	tests := []struct {
		name    string
		signers []SuperblockSigner
		key     string
		want    int // signatures at key
	}{
		{name: "one", signers: []SuperblockSigner{sign("a")}, key: "ostree.sign.a", want: 1},
		{name: "two of a type", signers: []SuperblockSigner{sign("a"), sign("a")}, key: "ostree.sign.a", want: 2},
		{name: "other type", signers: []SuperblockSigner{sign("a"), sign("b")}, key: "ostree.sign.b", want: 1},
		{name: "none at key", signers: []SuperblockSigner{sign("a")}, key: "ostree.sign.c", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := SignSuperblock(inner, tt.signers)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("OSTSGNDT")) {
				t.Fatalf("signed superblock starts %q, want the magic", b[:8])
			}
			// Only the wrapper is checked here; the inner bytes are no
			// real superblock.
			data, parsed, err := parseSignedWrapper(b)
			if err != nil || !bytes.Equal(data, inner) {
				t.Fatalf("parseSignedWrapper = %q, %v", data, err)
			}
			sb := &Superblock{Signed: true, SignedData: data, Signatures: parsed}
			sigs, data, err := SuperblockSignatures(sb, tt.key)
			if err != nil || !bytes.Equal(data, inner) || len(sigs) != tt.want {
				t.Fatalf("SuperblockSignatures = %d sigs, %q, %v; want %d", len(sigs), data, err, tt.want)
			}
		})
	}
	if _, _, err := SuperblockSignatures(&Superblock{}, "ostree.sign.a"); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned superblock: %v, want ErrUnsigned", err)
	}
}
