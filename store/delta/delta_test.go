package delta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"arbor/store/gvariant"
	"arbor/store/object"
)

func TestDirNames(t *testing.T) {
	// The layout's verified example.
	rel := "jW/ioaTzXGyoLTE8ZqRuZu87SsWt6OUg_cpHW5zi2jCA-8OawWZRVu5V0VWGce6Y2SaTm3ByEofsRPeUh9WkHwrg"
	from, to, err := ParseDir(rel)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(from.String(), "8d68a869") || !strings.HasSuffix(from.String(), "8c20") || !strings.HasPrefix(to.String(), "f0e6b059") {
		t.Errorf("from %s to %s", from, to)
	}
	if got := Dir(from, to); got != "deltas/"+rel {
		t.Errorf("Dir: %s", got)
	}
	if f, t2, err := ParseName(Name(from, to)); err != nil || f != from || t2 != to {
		t.Errorf("ParseName(Name): %v %v %v", f, t2, err)
	}
	if f, t2, err := ParseDir(strings.TrimPrefix(Dir(object.Zero, to), "deltas/")); err != nil || !f.IsZero() || t2 != to {
		t.Errorf("from scratch: %v %v %v", f, t2, err)
	}
	for _, bad := range []string{"", "jW", "jW/short", "jW/" + strings.Repeat("!", 41)} {
		if _, _, err := ParseDir(bad); err == nil {
			t.Errorf("ParseDir(%q) accepted", bad)
		}
	}
}

// ctl is one bsdiff control: bytes added to old, bytes copied, and the
// seek in old after them.
type ctl struct {
	diff, extra []byte
	seek        int64
}

// patch builds a bsdiff stream.
func patch(cs ...ctl) []byte {
	var b bytes.Buffer
	off := func(n int64) {
		v := uint64(n)
		if n < 0 {
			v = uint64(-n) | 1<<63
		}
		b.Write(binary.LittleEndian.AppendUint64(nil, v))
	}
	for _, c := range cs {
		off(int64(len(c.diff)))
		off(int64(len(c.extra)))
		off(c.seek)
		b.Write(c.diff)
		b.Write(c.extra)
	}
	return b.Bytes()
}

func TestBspatch(t *testing.T) {
	old := []byte("hello world")
	for _, c := range []struct {
		name  string
		patch []byte
		size  uint64
		want  string
		err   bool
	}{
		{"copy with an edit and an extra", patch(ctl{[]byte{0, 0, 0, 0, 0xe0}, []byte("!!"), 0}), 7, "hellO!!", false},
		{"seek back", patch(ctl{[]byte{0, 0}, nil, -2}, ctl{[]byte{0, 0, 0}, nil, 0}), 5, "hehel", false},
		{"diff past the size", patch(ctl{make([]byte, 8), nil, 0}), 4, "", true},
		{"extra past the size", patch(ctl{nil, []byte("toolong"), 0}), 3, "", true},
		{"truncated control", []byte{1, 2, 3}, 3, "", true},
		{"diff past the stream", append(binary.LittleEndian.AppendUint64(nil, 100), make([]byte, 16)...), 3, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Bspatch(old, c.patch, c.size)
			if c.err {
				if err == nil {
					t.Errorf("accepted: %q", got)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func xzOf(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w, err := xz.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestXzSize(t *testing.T) {
	data := bytes.Repeat([]byte("payload "), 5000)
	z := xzOf(t, data)
	if n, err := xzSize(z); err != nil || n != uint64(len(data)) {
		t.Errorf("xzSize = %d, %v; want %d", n, err, len(data))
	}
	if n, err := xzSize(append(z, 0, 0, 0, 0)); err != nil || n != uint64(len(data)) {
		t.Errorf("with stream padding: %d, %v", n, err)
	}
	for _, bad := range [][]byte{nil, z[:len(z)-1], z[:20], append([]byte{}, z[len(z)-12:]...)} {
		if _, err := xzSize(bad); err == nil {
			t.Errorf("xzSize of %d bytes accepted", len(bad))
		}
	}
}

// A part whose xz stream makes far more than its header estimates is
// refused before it is decompressed.
func TestPartBounds(t *testing.T) {
	big := xzOf(t, make([]byte, 8<<20))
	file := append([]byte{'x'}, big...)
	h := PartHeader{Size: uint64(len(file)), Uncompressed: 1000}
	h.Checksum = Checksum(file)
	if _, err := OpenPart(h, file, false); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "far past") {
		t.Errorf("an 8 MiB stream estimated at 1000 bytes: %v", err)
	}
	h.Size++
	if _, err := OpenPart(h, file, false); err == nil || !strings.Contains(err.Error(), "bytes, not the") {
		t.Errorf("a part of another size: %v", err)
	}
	h.Size--
	h.Checksum[0] ^= 1
	if _, err := OpenPart(h, file, false); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a part of another checksum: %v", err)
	}
	if _, err := OpenPart(PartHeader{}, []byte{'g', 1, 2}, true); err == nil || !strings.Contains(err.Error(), "compression") {
		t.Errorf("gzip: %v", err)
	}
	// Uncompressed: the payload follows the type byte.
	pb := &partBuilder{modes: map[[3]uint32]int{}, xattrs: map[string]int{}, sources: map[object.Checksum]int{}}
	hdr := object.FileHeader{Mode: 0o100644}
	data := []byte("plain\n")
	c := object.ContentChecksum(&hdr, data)
	pb.spliceContent(ObjectRef{Type: object.TypeFile, Checksum: c}, &hdr, data)
	pl, err := pb.payload()
	if err != nil {
		t.Fatal(err)
	}
	plain := append([]byte{0}, bytes.Join(pl[:], nil)...)
	ph := PartHeader{Size: uint64(len(plain)), Uncompressed: uint64(len(plain) - 1), Checksum: Checksum(plain), Objects: pb.objects}
	p, err := OpenPart(ph, plain, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}}
	if err := p.Apply(ph, s); err != nil || string(s.content[c]) != "plain\n" {
		t.Errorf("an uncompressed part: %v, %q", err, s.content[c])
	}
}

type memSink struct {
	meta    map[object.Checksum][]byte
	content map[object.Checksum][]byte
	src     map[object.Checksum][]byte
}

func (m *memSink) Has(o ObjectRef) (bool, error) { return false, nil }
func (m *memSink) Meta(o ObjectRef, d []byte) error {
	m.meta[o.Checksum] = d
	return nil
}
func (m *memSink) Content(c object.Checksum, h *object.FileHeader, d []byte) error {
	m.content[c] = d
	return nil
}
func (m *memSink) SourceData(c object.Checksum) ([]byte, error) {
	if b, ok := m.src[c]; ok {
		return b, nil
	}
	return nil, errors.New("not here")
}

func uv(ns ...uint64) []byte {
	var b []byte
	for _, n := range ns {
		b = binary.AppendUvarint(b, n)
	}
	return b
}

// The executor writes the objects its program makes, and refuses a
// program that reaches past its tables, its blob or its object list, or
// that makes an object with another checksum.
func TestExecutor(t *testing.T) {
	hdr := object.FileHeader{Mode: 0o100644}
	data := []byte("file data\n")
	c := object.ContentChecksum(&hdr, data)
	old := []byte("file old\n")
	oldC := object.ContentChecksum(&hdr, old)
	blob := append(append([]byte{}, data...), oldC[:]...)
	part := func(ops []byte) *Part {
		return &Part{Modes: [][3]uint32{{0, 0, 0o100644}}, Xattrs: [][]object.Xattr{nil}, Blob: blob, Ops: ops}
	}
	one := PartHeader{Objects: []ObjectRef{{Type: object.TypeFile, Checksum: c}}}
	for _, x := range []struct {
		name string
		ops  []byte
		h    PartHeader
		err  string
	}{
		{"splice", append([]byte{'S'}, uv(0, 0, 10, 0)...), one, ""},
		{"open, write, close", append(append(append([]byte{'o'}, uv(0, 0, 10)...), append([]byte{'w'}, uv(10, 0)...)...), 'c'), one, ""},
		{"from the source", append(append(append(append(append([]byte{'r'}, uv(10)...), 'o'), uv(0, 0, 10)...), append([]byte{'w'}, uv(5, 0)...)...),
			append(append([]byte{'R', 'w'}, uv(5, 5)...), 'c')...), one, ""},
		{"unknown op", []byte{'Z'}, one, "unknown op"},
		{"mode past the table", append([]byte{'S'}, uv(3, 0, 10, 0)...), one, "past the tables"},
		{"blob overrun", append([]byte{'S'}, uv(0, 0, 100, 0)...), one, "past the blob"},
		{"more objects than listed", append(append([]byte{'S'}, uv(0, 0, 10, 0)...), append([]byte{'S'}, uv(0, 0, 10, 0)...)...), one, "more objects"},
		{"fewer objects than listed", nil, one, "wrote 0 of the part's 1"},
		{"another checksum", append([]byte{'S'}, uv(0, 0, 9, 0)...), one, "another checksum"},
		{"write past the object", append(append([]byte{'o'}, uv(0, 0, 4)...), append([]byte{'w'}, uv(10, 0)...)...), one, "past the object"},
		{"close short", append(append([]byte{'o'}, uv(0, 0, 10)...), 'c'), one, "0 of the object's 10"},
		{"truncated number", []byte{'S', 0x80}, one, "truncated"},
		{"missing source", append(append(append(append([]byte{'r'}, uv(0)...), 'o'), uv(0, 0, 10)...), append([]byte{'w'}, uv(5, 0)...)...), one, "its source"},
	} {
		t.Run(x.name, func(t *testing.T) {
			s := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}, src: map[object.Checksum][]byte{oldC: old}}
			err := part(x.ops).Apply(x.h, s)
			if x.err == "" {
				if err != nil || string(s.content[c]) != string(data) {
					t.Errorf("%v, wrote %q", err, s.content[c])
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), x.err) {
				t.Errorf("got %v, want %q", err, x.err)
			}
			if len(s.content) != 0 && x.err != "more objects" {
				t.Errorf("stored %d objects", len(s.content))
			}
		})
	}
}

// Matches cover what the new file kept of the old: an append, an insert
// in the middle and an edit leave the rest matched, and a file with
// nothing in common has no match.
func TestMatchBlocks(t *testing.T) {
	rng := uint32(7)
	old := make([]byte, 64<<10)
	for i := range old {
		rng = rng*1664525 + 1013904223
		old[i] = byte(rng >> 24)
	}
	for _, c := range []struct {
		name    string
		data    []byte
		atLeast int
	}{
		{"appended", append(append([]byte{}, old...), []byte("more at the end")...), len(old)},
		{"inserted", append(append(append([]byte{}, old[:30000]...), []byte("an insert in the middle")...), old[30000:]...), len(old) - 2*blockSize},
		{"edited", func() []byte { d := append([]byte{}, old...); d[40000] ^= 0xff; return d }(), len(old) - 2*blockSize},
		{"unrelated", bytes.Repeat([]byte("z"), 10000), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ms := matchBlocks(old, c.data)
			got := matchedBytes(ms)
			if got < c.atLeast || (c.atLeast == 0 && got != 0) {
				t.Errorf("matched %d bytes, want at least %d", got, c.atLeast)
			}
			// Every match is what it says.
			for _, m := range ms {
				if !bytes.Equal(old[m.oldOff:m.oldOff+m.n], c.data[m.newOff:m.newOff+m.n]) {
					t.Fatalf("match %+v is not the same bytes", m)
				}
			}
		})
	}
}

// missingSink has no read source: a lazily mounted commit's, never read.
type missingSink struct{ memSink }

func (m *missingSink) SourceData(c object.Checksum) ([]byte, error) {
	return nil, fmt.Errorf("%s: %w", c, ErrSourceMissing)
}

// An object made from a read source that is not stored is left out, and
// the rest of the part is written: the pull's walk fetches what is left.
func TestMissingSourceLeavesItsObjectOut(t *testing.T) {
	hdr := object.FileHeader{Mode: 0o100644}
	data, other := []byte("file data\n"), []byte("other\n")
	c, c2 := object.ContentChecksum(&hdr, data), object.ContentChecksum(&hdr, other)
	var oldC object.Checksum
	blob := append(append(append([]byte{}, data...), oldC[:]...), other...)
	ops := append([]byte{'r'}, uv(10)...)
	ops = append(append(ops, 'o'), uv(0, 0, 10)...)
	ops = append(append(ops, 'w'), uv(10, 0)...)
	ops = append(append(ops, 'B'), uv(0, 4)...)
	ops = append(ops, 'c')
	ops = append(append(ops, 'S'), uv(0, 0, 6, 42)...)
	p := &Part{Modes: [][3]uint32{{0, 0, 0o100644}}, Xattrs: [][]object.Xattr{nil}, Blob: blob, Ops: ops}
	h := PartHeader{Objects: []ObjectRef{{Type: object.TypeFile, Checksum: c}, {Type: object.TypeFile, Checksum: c2}}}
	s := &missingSink{memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}}}
	if err := p.Apply(h, s); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.content[c]; ok {
		t.Error("the object made from a missing source was written")
	}
	if string(s.content[c2]) != string(other) {
		t.Errorf("the next object: %q", s.content[c2])
	}
}

// liblzma's decoder, as the Go one, takes a part's stream only when it
// makes exactly the bytes its index says, with nothing but padding after.
func TestUnxzWhole(t *testing.T) {
	data := bytes.Repeat([]byte("payload "), 5000)
	z := xzOf(t, data)
	for _, x := range []struct {
		name string
		in   []byte
		out  int
		bad  string // "" for a good stream
	}{
		{"exact", z, len(data), ""},
		{"padded", append(append([]byte{}, z...), 0, 0, 0, 0), len(data), ""},
		{"truncated", z[:len(z)-8], len(data), "x"},
		{"trailing bytes", append(append([]byte{}, z...), 1, 2, 3, 4), len(data), "x"},
		{"makes more", z, len(data) - 1, "x"},
		{"makes less", z, len(data) + 1, "x"},
	} {
		t.Run(x.name, func(t *testing.T) {
			out := make([]byte, x.out)
			if !withLiblzma {
				t.Skip("liblzma not built in (no cgo)")
			}
			ok, err := unxzWhole(x.in, out)
			if !ok {
				t.Fatal("liblzma declined the stream")
			}
			if (err != nil) != (x.bad != "") {
				t.Fatalf("err = %v, want an error: %v", err, x.bad != "")
			}
			if err == nil && !bytes.Equal(out, data) {
				t.Error("decoded bytes differ")
			}
		})
	}
}

// A part's payload, written in pieces so that its blob is not copied,
// is what the codec makes of the part, at every framing-offset width.
func TestPartPayloadPieces(t *testing.T) {
	for _, n := range []int{0, 10, 200, 70000, 1 << 16, 1<<16 - 40} {
		pb := &partBuilder{modes: map[[3]uint32]int{}, xattrs: map[string]int{}, sources: map[object.Checksum]int{}}
		hdr := object.FileHeader{Mode: 0o100644, UID: 7, Xattrs: []object.Xattr{{Name: "user.a", Value: []byte("v")}}}
		data := bytes.Repeat([]byte{'x'}, n)
		pb.spliceContent(ObjectRef{Type: object.TypeFile, Checksum: object.ContentChecksum(&hdr, data)}, &hdr, data)
		pl, err := pb.payload()
		if err != nil {
			t.Fatal(err)
		}
		modes := []any{[]any{bits.ReverseBytes32(7), uint32(0), bits.ReverseBytes32(0o100644)}}
		xs := []any{[]any{[]any{[]byte("user.a\x00"), []byte("v")}}}
		want, err := gvariant.Encode(partType, []any{modes, xs, pb.blob, pb.ops})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Join(pl[:], nil); !bytes.Equal(got, want) {
			t.Errorf("a blob of %d bytes: the pieces make %d bytes, the codec %d", n, len(got), len(want))
		}
	}
}

// A payload over a MiB is compressed in blocks side by side, into one
// stream that liblzma and the Go decoder both read back whole.
func TestXzWholeBlocks(t *testing.T) {
	var data []byte
	for i := 0; len(data) < 5<<20; i++ {
		data = fmt.Appendf(data, "line %d of a payload in several blocks\n", i*7919%100003)
	}
	if !withLiblzma {
		t.Skip("liblzma not built in (no cgo)")
	}
	z, ok := xzWhole(context.Background(), [3][]byte{data[:100], data[100 : len(data)-9], data[len(data)-9:]}, 2)
	if !ok {
		t.Fatal("liblzma failed")
	}
	// The same stream on any number of processors.
	for _, threads := range []int{1, 3} {
		if again, _ := xzWhole(context.Background(), [3][]byte{data, nil, nil}, threads); !bytes.Equal(again, z) {
			t.Errorf("on %d threads, another stream", threads)
		}
	}
	decodesTo(t, z, data)
	// Blocks, as the index at the stream's end counts them: its
	// records follow the index indicator, their count a varint.
	backward := binary.LittleEndian.Uint32(z[len(z)-8:])
	index := z[len(z)-12-int(backward+1)*4:]
	if n, _ := binary.Uvarint(index[1:]); n < 2 {
		t.Errorf("%d blocks in the stream of %d bytes", n, len(data))
	}
}

// A payload over twice the window is compressed by two encoders, the
// second primed with the bytes before its half, into one block that
// liblzma and the Go decoder both read back: a copy across the middle
// is found, as it is not by halves compressed alone.
func TestXzPrimed(t *testing.T) {
	const window = 4 << 20
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	// Random bytes but for a MiB after the middle that repeats the
	// MiB before it: only matches across the middle make it smaller.
	head, tail := []byte("modes and xattrs"), []byte("the program")
	const size = 12 << 20
	mid := (len(head)+size+len(tail))/2 - len(head) // the second half's start in the blob
	blob := random(mid)
	blob = append(blob, blob[mid-1<<20:]...)
	blob = append(blob, random(size-len(blob))...)
	data := bytes.Join([][]byte{head, blob, tail}, nil)
	slots := make(chan struct{}, 2)
	if !withLiblzma {
		t.Skip("liblzma not built in (no cgo)")
	}
	z, ok := xzPrimed(context.Background(), [3][]byte{head, blob, tail}, window, slots)
	if !ok {
		t.Fatal("liblzma failed")
	}
	if max := len(data) - 1<<20 + 1<<16; len(z) > max {
		t.Errorf("%d bytes of %d compressed to %d: the repeat across the middle was not found (want <= %d)", len(data), len(data), len(z), max)
	}
	if n, err := xzSize(z); err != nil || n != uint64(len(data)) {
		t.Errorf("the index says %d (%v), want %d", n, err, len(data))
	}
	decodesTo(t, z, data)
	// A payload of no more than twice the window is left to xzWhole.
	if _, ok := xzPrimed(context.Background(), [3][]byte{head, blob[:2*window-100], tail}, window, slots); ok {
		t.Error("a payload of twice the window was split")
	}
}

// decodesTo checks that liblzma and the Go decoder both read z back as
// data.
func decodesTo(t *testing.T, z, data []byte) {
	t.Helper()
	out := make([]byte, len(data))
	if ok, err := unxzWhole(z, out); !ok || err != nil || !bytes.Equal(out, data) {
		t.Fatalf("liblzma: %v %v, same bytes %v", ok, err, bytes.Equal(out, data))
	}
	r, err := xz.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the Go decoder: %v, same bytes %v", err, bytes.Equal(got, data))
	}
}

// A generation's end stops liblzma's encoders between steps of their
// input, not after the part: both give up, with no stream, when the
// context ends while they run (the input takes seconds to compress).
func TestXzStops(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	data := make([]byte, 48<<20)
	for i := range data {
		data[i] = byte(rng.IntN(256)) &^ byte(i%7)
	}
	head, blob, tail := data[:64], data[64:len(data)-16], data[len(data)-16:]
	for _, c := range []struct {
		name string
		run  func(ctx context.Context) bool
	}{
		{"whole", func(ctx context.Context) bool {
			_, ok := xzWhole(ctx, [3][]byte{head, blob, tail}, 2)
			return ok
		}},
		{"primed", func(ctx context.Context) bool {
			_, ok := xzPrimed(ctx, [3][]byte{head, blob, tail}, primedWindow, make(chan struct{}, 2))
			return ok
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				time.Sleep(50 * time.Millisecond)
				cancel()
			}()
			if c.run(ctx) {
				t.Fatal("a stream made after its context ended")
			}
			if ctx.Err() == nil {
				t.Fatal("it gave up before its context ended")
			}
		})
	}
}
