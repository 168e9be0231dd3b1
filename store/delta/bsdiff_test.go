package delta

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

func TestSuffixArray(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	random := func(n, alphabet int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Intn(alphabet))
		}
		return b
	}
	cases := map[string][]byte{
		"empty":       nil,
		"one":         {7},
		"zeros":       make([]byte, 300),
		"period 2":    bytes.Repeat([]byte("ab"), 150),
		"period 3":    bytes.Repeat([]byte("abc"), 101),
		"banana":      []byte("banana"),
		"two letters": random(2000, 2),
		"bytes":       random(5000, 256),
		"every byte": func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(255 - i)
			}
			return b
		}(),
		"zero runs": append(append(make([]byte, 100), random(50, 4)...), make([]byte, 100)...),
		"fibonacci": func() []byte {
			a, b := []byte("b"), []byte("a")
			for len(b) < 20000 {
				a, b = b, append(append([]byte{}, b...), a...)
			}
			return b
		}(),
		"repeats of repeats": bytes.Repeat(append(bytes.Repeat([]byte("ab"), 7), 'c'), 900),
	}
	for i := 0; i < 200; i++ {
		cases[fmt.Sprintf("random %d", i)] = random(1+rng.Intn(60), 1+rng.Intn(3))
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			got := suffixArray(b)
			want := make([]int32, len(b)+1)
			for i := range want {
				want[i] = int32(i)
			}
			sort.Slice(want, func(i, j int) bool { return bytes.Compare(b[want[i]:], b[want[j]:]) < 0 })
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("entry %d is suffix %d, want %d", i, got[i], want[i])
				}
			}
		})
	}
}

func TestBsdiffRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	code := make([]byte, 200000)
	rng.Read(code)
	// A rebuild: a header, the code moved on by 24 bytes and every 64th
	// byte (an address) changed by one.
	relinked := append([]byte("new header 0123456789abc"), code...)
	for i := 30; i < len(relinked); i += 64 {
		relinked[i]++
	}
	big := make([]byte, 3<<20+12345)
	rng.Read(big)
	bigRelinked := append([]byte("a longer header, 32 bytes long.."), big...)
	for i := 50; i < len(bigRelinked); i += 64 {
		bigRelinked[i] += 3
	}
	// Its halves swapped: at the cut, the alignment jumps.
	bigMoved := append(append([]byte{}, big[len(big)/2:]...), big[:len(big)/2]...)
	cases := []struct {
		name       string
		old, data  []byte
		maxResidue int // -1: no bound
	}{
		{"identical", code, code, 0},
		{"prepended", code, append([]byte("aheader\n"), code...), 8},
		{"appended", code, append(append([]byte{}, code...), make([]byte, 40)...), 40},
		{"relinked", code, relinked, len(relinked) / 20},
		{"unrelated", code[:5000], code[100000:105000], -1},
		{"from one byte", []byte{1}, []byte("something else"), -1},
		{"to one byte", code[:1000], []byte{9}, -1},
		{"shrunk", code, code[50000:150000], 0},
		// Past a MiB the scan is cut in segments, each of which must
		// pick up the alignment where the one before left it.
		{"segments, relinked", big, bigRelinked, len(bigRelinked) / 20},
		{"segments, moved", big, bigMoved, 64},
		{"segments, unrelated", code, big[:3<<20], -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			patch, residue := Bsdiff(c.old, c.data)
			got, err := Bspatch(c.old, patch, uint64(len(c.data)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.data) {
				t.Fatalf("patched: %d bytes, not the %d wanted", len(got), len(c.data))
			}
			if c.maxResidue >= 0 && residue > c.maxResidue {
				t.Errorf("residue %d bytes, want at most %d", residue, c.maxResidue)
			}
		})
	}
}

// The generator's choice: blocks where they cover most of a file,
// bsdiff where they do not (and for ELF), neither when bsdiff is off
// or the file is past its size.
func TestEncodeChoice(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	text := make([]byte, 100000)
	rng.Read(text)
	elf := append([]byte("\x7fELF"), text...)
	relink := func(b []byte) []byte {
		out := append([]byte("aheader\n"), b...)
		for i := 40; i < len(out); i += 48 {
			out[i] ^= 1
		}
		return out
	}
	cases := []struct {
		name      string
		max       int64
		old, data []byte
		want      encoding
	}{
		{"appended text: blocks", 16e6, text, append(append([]byte{}, text...), "tail"...), byBlocks},
		{"prepended ELF: bsdiff", 16e6, elf, append([]byte("aheader\n"), elf...), byBsdiff},
		{"prepended ELF, bsdiff off: blocks", 0, elf, append([]byte("aheader\n"), elf...), byBlocks},
		{"relinked text: bsdiff", 16e6, text, relink(text), byBsdiff},
		{"relinked text, past the size: whole", 150000, text, relink(text), whole},
		{"unrelated: whole", 16e6, text[:50000], text[50000:], whole},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &generator{o: GenerateOptions{MaxBsdiffSize: c.max}}
			if got := g.encode(c.old, c.data).how; got != c.want {
				t.Errorf("encoded as %d, want %d", got, c.want)
			}
		})
	}
}
