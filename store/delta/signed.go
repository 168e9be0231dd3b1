package delta

import (
	"encoding/binary"
	"errors"
	"fmt"

	"arbor/store/gvariant"
	"arbor/store/object"
)

// A SuperblockSigner signs a superblock's bytes; Key is the detached
// metadata key its signatures go under (ostree.sign.TYPE).
type SuperblockSigner struct {
	Key  string
	Sign func([]byte) ([]byte, error)
}

// ErrUnsigned is a superblock with no signatures to check.
var ErrUnsigned = errors.New("no signatures in static-delta")

// SignSuperblock wraps a superblock file (unsigned) with a signature by
// each signer: (taya{sv}), the magic first so the file starts with
// "OSTSGNDT", the superblock, then the signatures by key.
func SignSuperblock(sb []byte, signers []SuperblockSigner) ([]byte, error) {
	var md []object.MetaEntry
	for _, s := range signers {
		sig, err := s.Sign(sb)
		if err != nil {
			return nil, fmt.Errorf("signing the superblock: %w", err)
		}
		found := false
		for i := range md {
			if md[i].Key == s.Key {
				md[i].Value.Value = append(md[i].Value.Value.([]any), sig)
				found = true
			}
		}
		if !found {
			md = append(md, object.MetaEntry{Key: s.Key, Value: gvariant.Variant{Type: gvariant.MustType("aay"), Value: []any{sig}}})
		}
	}
	dict, err := object.MarshalVarDict(md)
	if err != nil {
		return nil, err
	}
	dv, err := gvariant.Decode(gvariant.MustType("a{sv}"), dict)
	if err != nil {
		return nil, err
	}
	// The magic's bytes, as stored, spell it out.
	magic := binary.LittleEndian.Uint64([]byte(signedMagic))
	return gvariant.Encode(signedType, []any{magic, sb, dv})
}

// SuperblockSignatures are the signatures at key of a signed superblock,
// and the bytes they cover; ErrUnsigned when it is not signed.
func SuperblockSignatures(sb *Superblock, key string) ([][]byte, []byte, error) {
	if !sb.Signed {
		return nil, nil, ErrUnsigned
	}
	v, ok := object.Lookup(sb.Signatures, key)
	if !ok {
		return nil, sb.SignedData, nil
	}
	items, ok := v.Value.([]any)
	if !ok || v.Type.String() != "aay" {
		return nil, nil, fmt.Errorf("%w: signed superblock: %s is %s, want aay", ErrCorrupt, key, v.Type)
	}
	var sigs [][]byte
	for _, it := range items {
		if b, ok := it.([]byte); ok {
			sigs = append(sigs, b)
		}
	}
	return sigs, sb.SignedData, nil
}
