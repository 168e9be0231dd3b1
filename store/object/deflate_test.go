package object

import (
	"bytes"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

func TestDeflaterRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	d, err := newDeflater(io.Discard, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello\n")},
		{"repetitive, many buffers", bytes.Repeat([]byte("arbor "), 100<<10)},
		{"random, many buffers", random},
	} {
		var out bytes.Buffer
		d.Reset(&out) // one deflater reused, as the compressor's pool does
		for p := tc.data; len(p) > 0; {
			k := min(len(p), 7000)
			if _, err := d.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(flate.NewReader(&out))
		if err != nil || !bytes.Equal(got, tc.data) {
			t.Errorf("%s: inflated %d bytes (%v), want %d", tc.name, len(got), err, len(tc.data))
		}
	}
}

func TestDeflaterZlibBytes(t *testing.T) {
	if !haveWholeInflate {
		t.Skip("built without cgo: Go's deflate, not zlib's bytes")
	}
	// zlib's raw stream at level 6, as ostree's archive objects hold it.
	for _, tc := range []struct{ in, want string }{
		{"hello\n", "cb48cdc9c9e70200"},
		{"", "0300"},
	} {
		var out bytes.Buffer
		d, err := newDeflater(&out, 6)
		if err != nil {
			t.Fatal(err)
		}
		d.Write([]byte(tc.in))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(out.Bytes()); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
}
