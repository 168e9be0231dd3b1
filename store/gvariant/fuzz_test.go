package gvariant

import (
	"bytes"
	"testing"
)

// fuzzTypes are the types OSTree decodes from untrusted bytes.
var fuzzTypes = []string{
	"(uuua(ayay))",           // dirmeta
	"(a(say)a(sayay))",       // dirtree
	"(a{sv}aya(say)sstayay)", // commit
	"(uuuusa(ayay))",         // file header
	"(tuuuusa(ayay))",        // archive file header
	"a{sv}",                  // commitmeta, summary.sig
	"(a(s(taya{sv}))a{sv})",  // summary
	"v", "mv", "(yn)", "ad",  // the rest of the codec
}

func FuzzDecode(f *testing.F) {
	f.Add(uint8(1), unhex(f, exampleDirtree))
	f.Add(uint8(2), unhex(f, exampleCommit))
	f.Add(uint8(2), unhex(f, boundCommit))
	f.Add(uint8(6), unhex(f, exampleSummary))
	f.Add(uint8(3), unhex(f, "00000000 00000000 000081a4 00000000 00 11"))
	f.Add(uint8(7), []byte("\x01\x00y"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		typ := MustType(fuzzTypes[int(which)%len(fuzzTypes)])
		v, err := Decode(typ, data)
		if err != nil {
			return
		}
		again, err := Encode(typ, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes are not the normal form")
		}
	})
}
