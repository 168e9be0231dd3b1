package gvariant

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors are the worked example of the OSTree format notes.
var (
	helloSum = "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"
	linkSum  = "73baaba0102e9154b8522687d33eedb8ed1bc78eadb82428b2616144ec502934"
	treeSum  = "815aad83f4be3c9713c7be978703ec8875bb3d89d5ca511440561a175d96f55e"
	metaSum  = "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"
)

const exampleDirtree = `68656c6c6f0044f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5df
fc7749153a6b066c696e6b0073baaba0102e9154b8522687d33eedb8ed1bc78e
adb82428b2616144ec502934 05 274d4f`

const exampleCommit = `6578616d706c6500000000000000000000000000 5e0be100 815aad83f4be3c97
13c7be978703ec8875bb3d89d5ca51144056 1a175d96f55e 446a0ef11b7cc167
f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488 380908000000`

const boundCommit = `6f73 7472 6565 2e72 6566 2d62 696e 6469 
6e67 0000 0000 0000 7465 7374 0005 0061 
7313 2265 7861 6d70 6c65 0000 0000 0000 
0000 0000 5e0b e100 815a ad83 f4be 3c97 
13c7 be97 8703 ec88 75bb 3d89 d5ca 5114 
4056 1a17 5d96 f55e 446a 0ef1 1b7c c167 
f3b6 03e5 85c7 eeee b675 faa4 12d5 ec73 
f629 88eb 0b6c 5488 582c 2b23 2323      `

const exampleSummary = `7465 7374 0000 0000 5e00 0000 0000 0000 
55cd 084a ecb5 c17a 76b9 a597 f91a 0908 
e62e 5546 a08a 0840 2985 19e3 6314 3538 
6f73 7472 6565 2e63 6f6d 6d69 742e 7469 
6d65 7374 616d 7000 0000 0000 5e0b e100 
0074 1823 2805 5600 6f73 7472 6565 2e73 
756d 6d61 7279 2e6d 6f64 6500 0000 0000 
6172 6368 6976 652d 7a32 0000 7314 0000 
6f73 7472 6565 2e73 756d 6d61 7279 2e6c 
6173 742d 6d6f 6469 6669 6564 0000 0000 
0000 0000 6b07 2d7c 0074 1d00 0000 0000 
6f73 7472 6565 2e73 756d 6d61 7279 2e74 
6f6d 6273 746f 6e65 2d63 6f6d 6d69 7473 
0000 0000 0000 0000 0000 6221 0000 0000 
6f73 7472 6565 2e73 756d 6d61 7279 2e69 
6e64 6578 6564 2d64 656c 7461 7300 0000 
0100 621e 2653 84ac 5700                `

func be32(x uint32) uint32 { return x>>24 | x>>8&0xff00 | x<<8&0xff0000 | x<<24 }
func be64(x uint64) uint64 {
	return uint64(be32(uint32(x)))<<32 | uint64(be32(uint32(x>>32)))
}

func TestVectors(t *testing.T) {
	hs := unhex(t, helloSum)
	ls := unhex(t, linkSum)
	ts := unhex(t, treeSum)
	ms := unhex(t, metaSum)
	tests := []struct {
		name string
		sig  string
		val  any
		hex  string
	}{
		{"dirmeta", "(uuua(ayay))", []any{uint32(0), uint32(0), be32(0o40755), []any{}}, "00000000 00000000 000041ed"},
		{"dirtree", "(a(say)a(sayay))", []any{[]any{[]any{"hello", hs}, []any{"link", ls}}, []any{}}, exampleDirtree},
		{"empty dirtree", "(a(say)a(sayay))", []any{[]any{}, []any{}}, "00"},
		{"commit", "(a{sv}aya(say)sstayay)", []any{[]any{}, []byte{}, []any{}, "example", "", be64(1577836800), ts, ms}, exampleCommit},
		{"bound commit", "(a{sv}aya(say)sstayay)", []any{
			[]any{[]any{"ostree.ref-binding", Variant{MustType("as"), []any{"test"}}}},
			[]byte{}, []any{}, "example", "", be64(1577836800), ts, ms}, boundCommit},
		{"file header", "(uuuusa(ayay))", []any{uint32(0), uint32(0), be32(0o100644), uint32(0), "", []any{}}, "00000000 00000000 000081a4 00000000 00 11"},
		{"symlink header", "(uuuusa(ayay))", []any{uint32(0), uint32(0), be32(0o120777), uint32(0), "hello", []any{}}, "00000000 00000000 0000a1ff 00000000 68656c6c6f00 16"},
		{"xattrs", "a(ayay)", []any{[]any{[]byte("user.a\x00"), []byte("A")}, []any{[]byte("user.b\x00"), []byte("BB")}},
			"757365722e6100 41 07 757365722e6200 4242 07 09 13"},
		{"dummy commitmeta", "a{sv}", []any{[]any{"ostree.sign.dummy", Variant{MustType("aay"), []any{[]byte("abcd")}}}},
			"6f73747265652e7369676e2e64756d6d7900 000000000000 61626364 04 00 616179 12 22"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := MustType(tc.sig)
			want := unhex(t, tc.hex)
			got, err := Encode(typ, tc.val)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			back, err := Decode(typ, want)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			again, _ := Encode(typ, back)
			if !bytes.Equal(again, want) {
				t.Fatalf("round trip differs")
			}
		})
	}
}

func TestSummaryVector(t *testing.T) {
	typ := MustType("(a(s(taya{sv}))a{sv})")
	data := unhex(t, exampleSummary)
	if len(data) != 266 {
		t.Fatalf("vector is %d bytes", len(data))
	}
	v, err := Decode(typ, data)
	if err != nil {
		t.Fatal(err)
	}
	refs := v.([]any)[0].([]any)
	ref := refs[0].([]any)
	if ref[0] != "test" {
		t.Fatalf("ref name %v", ref[0])
	}
	inner := ref[1].([]any)
	if inner[0] != uint64(94) {
		t.Fatalf("commit size %v, want 94 (little-endian)", inner[0])
	}
	meta := v.([]any)[1].([]any)
	if len(meta) != 4 {
		t.Fatalf("%d metadata entries", len(meta))
	}
}

func TestRejects(t *testing.T) {
	tests := []struct {
		name, sig, hex string
		normal         bool // true: well formed but not normal form
	}{
		{"short fixed", "u", "000000", false},
		{"bool 2", "b", "02", false},
		{"string no nul", "s", "6162", false},
		{"string inner nul", "s", "610000", false},
		{"array bad offset", "as", "610005", false},
		{"tuple offset past end", "(say)", "6100ff", false},
		{"variant no type", "v", "0102", false},
		{"variant bad type", "v", "0100 7a", false},
		{"nonzero padding", "(yu)", "01ff000001000000", true},
		{"offset table garbage", "as", "6100 0200", false},
		{"fixed array ragged", "au", "0100000002", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(MustType(tc.sig), unhex(t, tc.hex))
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.normal != errors.Is(err, ErrNotNormal) {
				t.Fatalf("error %v, want not-normal=%v", err, tc.normal)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	good := map[string][2]int{"y": {1, 1}, "(uuu)": {4, 12}, "(yt)": {8, 16}, "(ty)": {8, 16}, "()": {1, 1}, "a{sv}": {8, 0}, "(uuuusa(ayay))": {4, 0}, "(yaytt)": {8, 0}}
	for sig, want := range good {
		typ, err := ParseType(sig)
		if err != nil {
			t.Fatalf("%s: %v", sig, err)
		}
		size, _ := typ.Fixed()
		if typ.Align() != want[0] || size != want[1] {
			t.Errorf("%s: align %d size %d, want %v", sig, typ.Align(), size, want)
		}
	}
	for _, sig := range []string{"", "a", "(u", "{vs}", "{s}", "z", "uu", strings.Repeat("a", 100) + "y"} {
		if _, err := ParseType(sig); err == nil {
			t.Errorf("%q accepted", sig)
		}
	}
}

func TestOffsetWidthGrows(t *testing.T) {
	typ := MustType("as")
	var items []any
	for i := 0; i < 100; i++ {
		items = append(items, "abc")
	}
	b, err := Encode(typ, items)
	if err != nil {
		t.Fatal(err)
	}
	// 400 bytes of strings need 2-byte offsets: 400 + 100*2 = 600.
	if len(b) != 600 {
		t.Fatalf("%d bytes", len(b))
	}
	if _, err := Decode(typ, b); err != nil {
		t.Fatal(err)
	}
}

func TestPrint(t *testing.T) {
	tests := []struct {
		sig  string
		val  any
		want string
	}{
		{"s", "1.0", "'1.0'"},
		{"as", []any{"ex"}, "['ex']"},
		{"as", []any{}, "@as []"},
		{"a(ayay)", []any{}, "@a(ayay) []"},
		{"a(ayay)", []any{[]any{[]byte("user.a\x00"), []byte{0, 1, 0xff}}, []any{[]byte("user.b\x00"), []byte("BB")}},
			"[(b'user.a', [byte 0x00, 0x01, 0xff]), (b'user.b', [0x42, 0x42])]"},
		{"a{sv}", []any{[]any{"k", Variant{MustType("u"), uint32(5)}}}, "{'k': <uint32 5>}"},
		{"(ib)", []any{int32(-1), true}, "(-1, true)"},
		{"s", "it's", `"it's"`},
	}
	for _, tc := range tests {
		if got := Print(MustType(tc.sig), tc.val); got != tc.want {
			t.Errorf("%s: got %s want %s", tc.sig, got, tc.want)
		}
	}
}
