package object

import (
	"bytes"
	"encoding/hex"
	"io"
	"testing"
)

// FuzzObjects feeds untrusted bytes to every object decoder: none may
// panic, and what they accept must re-encode to the same bytes.
func FuzzObjects(f *testing.F) {
	hello := FileHeader{Mode: 0o100644}
	tree := DirTree{Files: []FileEntry{{"hello", ContentChecksum(&hello, []byte("hello\n"))}}}
	c := Commit{Subject: "s", Timestamp: 1, Metadata: []MetaEntry{String("version", "1")}}
	cb, _ := c.Marshal()
	var filez bytes.Buffer
	testCompressor.WriteArchive(&filez, &hello, 6, bytes.NewReader([]byte("hello\n")))
	link, _ := hex.DecodeString("0000001f00000000000000000000000000000000000000000000a1ff0000000068656c6c6f001e")
	vd, _ := MarshalVarDict([]MetaEntry{Strings("k", []string{"a"})})
	for i, seed := range [][]byte{DirMeta{Mode: 0o40755}.Marshal(), tree.Marshal(), cb, hello.Marshal(), filez.Bytes(), link, vd, hello.MarshalUserMeta()} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		switch which % 8 {
		case 0:
			if m, err := ParseDirMeta(data); err == nil && !bytes.Equal(m.Marshal(), data) {
				t.Fatal("dirmeta does not round-trip")
			}
		case 1:
			if tr, err := ParseDirTree(data); err == nil {
				for _, e := range tr.Files {
					if ValidateName(e.Name) != nil {
						t.Fatalf("accepted name %q", e.Name)
					}
				}
			}
		case 2:
			if c, err := ParseCommit(data); err == nil {
				if b, err := c.Marshal(); err != nil || !bytes.Equal(b, data) {
					t.Fatal("commit does not round-trip")
				}
			}
		case 3:
			ParseContentHeader(data)
		case 4, 5:
			if _, _, r, err := testDecompressor.ReadArchive(bytes.NewReader(data)); err == nil {
				io.Copy(io.Discard, io.LimitReader(r, 64<<10))
			}
		case 6:
			ParseVarDict(data)
		case 7:
			ParseUserMeta(data, "")
		}
	})
}
