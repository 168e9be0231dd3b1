package delta

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/store"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// handSuperblock encodes a superblock by hand: one part of the given
// stored sizes (in whatever byte order the case writes them) making
// nobj objects, the fallbacks' stored sizes, and the byte-order mark
// when order is not 0.
func handSuperblock(t *testing.T, order byte, size, usize uint64, nobj int, fallbacks ...[2]uint64) []byte {
	t.Helper()
	commit := gvariant.MustEncode(commitType, []any{[]any{}, []byte{}, []any{}, "subject", "", uint64(0), make([]byte, 32), make([]byte, 32)})
	to := sha256.Sum256(commit)
	cv, err := gvariant.Decode(commitType, commit)
	if err != nil {
		t.Fatal(err)
	}
	var md []any
	if order != 0 {
		md = append(md, []any{"ostree.endianness", gvariant.Variant{Type: gvariant.MustType("y"), Value: order}})
	}
	objs := make([]byte, 0, 33*nobj)
	for i := range nobj {
		c := sha256.Sum256([]byte{byte(i)})
		objs = append(append(objs, byte(object.TypeFile)), c[:]...)
	}
	var fbs []any
	for i, f := range fallbacks {
		c := sha256.Sum256([]byte{0xf0, byte(i)})
		fbs = append(fbs, []any{uint8(object.TypeFile), c[:], f[0], f[1]})
	}
	sum := sha256.Sum256([]byte("part"))
	parts := []any{[]any{uint32(0), sum[:], size, usize, objs}}
	return gvariant.MustEncode(superblockType, []any{md, bits.ReverseBytes64(1456349840), []byte{}, to[:], cv, []byte{}, parts, fbs})
}

// A superblock that does not say its byte order (written before ostree
// marked them) is read in the order its sizes are believable in, and
// says it guessed; a marked one is read as marked. The legacy cases are
// ostree's own pre-endian test deltas: a 593-byte part making 482 bytes
// of objects, with a 21343-byte fallback of 21851648.
func TestEndiannessHeuristic(t *testing.T) {
	sw := bits.ReverseBytes64
	for _, c := range []struct {
		name        string
		order       byte
		size, usize uint64
		nobj        int
		fallbacks   [][2]uint64
		big, guess  bool
	}{
		{"marked little", 'l', 593, 482, 3, nil, false, false},
		{"marked big", 'B', sw(593), sw(482), 3, nil, true, false},
		{"legacy little", 0, 593, 482, 3, [][2]uint64{{21343, 21851648}}, false, true},
		{"legacy big", 0, sw(593), sw(482), 3, [][2]uint64{{sw(21343), sw(21851648)}}, true, true},
		{"an empty part", 0, 61, 0, 0, nil, false, true},
		{"an empty part, big", 0, sw(61), 0, 0, nil, true, true},
		{"only the fallback tells", 0, 0, 0, 0, [][2]uint64{{sw(21343), sw(21851648)}}, true, true},
		{"believable neither way", 0, 1<<40 | 1, 1<<40 | 1, 1, nil, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb, err := ParseSuperblock(handSuperblock(t, c.order, c.size, c.usize, c.nobj, c.fallbacks...))
			if err != nil {
				t.Fatal(err)
			}
			if sb.BigEndian != c.big || sb.EndiannessGuessed != c.guess {
				t.Fatalf("big=%v guessed=%v, want big=%v guessed=%v", sb.BigEndian, sb.EndiannessGuessed, c.big, c.guess)
			}
			want := c.size
			if c.big {
				want = sw(want)
			}
			if sb.Parts[0].Size != want {
				t.Errorf("part size %d, want %d", sb.Parts[0].Size, want)
			}
			if sb.Timestamp != 1456349840 {
				t.Errorf("timestamp %d", sb.Timestamp)
			}
			if len(c.fallbacks) > 0 && c.guess && sb.Fallbacks[0].Size != 21343 {
				t.Errorf("fallback size %d", sb.Fallbacks[0].Size)
			}
		})
	}
}

// A name with a piece that is not a checksum fails in ostree's words,
// naming the piece; a missing delta is an fs.ErrNotExist.
func TestBadNames(t *testing.T) {
	a := strings.Repeat("a", 64)
	for _, c := range []struct{ name, rev string }{
		{"GARBAGE", "GARBAGE"},
		{"GAR-BAGE", "GAR"},
		{a + "-abc", "abc"},
		{"abc-" + a, "abc"},
		{"", ""},
	} {
		_, _, err := ParseName(c.name)
		var bad *BadRevError
		if !errors.As(err, &bad) || bad.Rev != c.rev || err.Error() != "Invalid rev "+c.rev {
			t.Errorf("ParseName(%q): %v, want Invalid rev %s", c.name, err, c.rev)
		}
	}
	_, err := Find(t.TempDir(), a)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "Can't find delta "+a {
		t.Errorf("Find of a missing delta: %v", err)
	}
}

func commitFiles(t *testing.T, r *store.Repo, dir string, files map[string]string) object.Checksum {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := r.CommitDir(context.Background(), dir, store.CommitOptions{Branch: "main", NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A delta written to a file of its own (--filename) has its parts beside
// the file, none in the repository, and applies from the file.
func TestGenerateToFile(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	c := commitFiles(t, r, filepath.Join(tmp, "src"), map[string]string{"a": "some content", "b": strings.Repeat("more ", 1000)})
	for _, inline := range []bool{false, true} {
		out := filepath.Join(tmp, "out", map[bool]string{false: "parts", true: "inline"}[inline], "some.delta")
		o := DefaultGenerateOptions()
		o.To, o.Output, o.Inline = c, out, inline
		// Into a directory that is there, as ostree's.
		if _, _, err := Generate(ctx, r, o); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("inline=%v: into a missing directory: %v", inline, err)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Generate(ctx, r, o); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(out), "0")); (err == nil) == inline {
			t.Errorf("inline=%v: part 0 beside the file: %v", inline, err)
		}
		if ds, err := List(ctx, r.Path()); err != nil || len(ds) != 0 {
			t.Errorf("the repository lists %v (%v)", ds, err)
		}
		sb, dir, err := ReadOffline(out)
		if err != nil || dir != filepath.Dir(out) || sb.To != c {
			t.Fatalf("ReadOffline: %v, %s", err, dir)
		}
		r2 := initRepo(t, filepath.Join(tmp, "repo2-"+filepath.Base(filepath.Dir(out))), store.ModeBareUser)
		got, err := ApplyOfflineSuperblock(ctx, r2, dir, sb)
		if err != nil || got != c {
			t.Fatalf("inline=%v: applied %s, %v", inline, got, err)
		}
	}
}

// A delta between commits with the same tree has one part, empty, as
// ostree's: it applies, and makes nothing.
func TestEmptyDeltaHasOnePart(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	files := map[string]string{"a": "same content"}
	from := commitFiles(t, r, filepath.Join(tmp, "src"), files)
	to := commitFiles(t, r, filepath.Join(tmp, "src"), files)
	o := DefaultGenerateOptions()
	o.From, o.To = from, to
	d, _, err := Generate(ctx, r, o)
	if err != nil {
		t.Fatal(err)
	}
	sb, _, err := Read(r.Path(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(sb.Parts) != 1 || len(sb.Parts[0].Objects) != 0 || sb.Parts[0].Uncompressed != 0 {
		t.Fatalf("%d parts, %+v", len(sb.Parts), sb.Parts)
	}
	file, err := os.ReadFile(filepath.Join(r.Path(), d.Dir(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenPart(sb.Parts[0], file, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Ops) != 0 || len(p.Blob) != 0 {
		t.Errorf("the empty part has %d ops, %d blob bytes", len(p.Ops), len(p.Blob))
	}
	// Applied where the from commit is complete (here: its own repo).
	if got, err := ApplyOffline(ctx, r, filepath.Join(r.Path(), d.Dir())); err != nil || got != to {
		t.Errorf("applied %s, %v", got, err)
	}
}

// The summary lists the deltas unless core.no-deltas-in-summary is set;
// the indexes are written either way.
func TestSummaryDeltas(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	if v, err := SummaryDeltas(ctx, r); err != nil || v != nil {
		t.Fatalf("no deltas: %v, %v", v, err)
	}
	c := commitFiles(t, r, filepath.Join(tmp, "src"), map[string]string{"a": "x"})
	o := DefaultGenerateOptions()
	o.To = c
	if _, _, err := Generate(ctx, r, o); err != nil {
		t.Fatal(err)
	}
	for _, off := range []bool{false, true} {
		if err := r.EditConfig(func(f store.ConfigFile) error {
			f.Set("core", "no-deltas-in-summary", map[bool]string{false: "false", true: "true"}[off])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(r.Path(), "delta-indexes")); err != nil {
			t.Fatal(err)
		}
		v, err := SummaryDeltas(ctx, r)
		if err != nil || (v == nil) != off {
			t.Errorf("no-deltas-in-summary=%v: %v, %v", off, v, err)
		}
		if cs, err := Indexes(ctx, r.Path()); err != nil || len(cs) != 1 || cs[0] != c {
			t.Errorf("no-deltas-in-summary=%v: indexes %v, %v", off, cs, err)
		}
	}
}

// initRepo makes a repository at dir, closed when the test ends.
func initRepo(t *testing.T, dir string, mode store.Mode) *store.Repo {
	t.Helper()
	r, err := store.Init(dir, mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// A delta made again is put in place whole: a generation that fails
// half-way leaves the one that was there as it was, and one that ends
// leaves none of the old one's parts behind (here the old had three).
func TestGenerateAgainReplacesWhole(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	files := map[string]string{}
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 6; i++ {
		b := make([]byte, 512<<10)
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyz \n"[rng.IntN(28)]
		}
		files[fmt.Sprintf("f%02d", i)] = string(b)
	}
	c := commitFiles(t, r, filepath.Join(tmp, "src"), files)
	o := DefaultGenerateOptions()
	o.To, o.MaxChunkSize = c, 512<<10
	d, st, err := Generate(ctx, r, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Parts < 3 {
		t.Fatalf("%d parts; the test wants several", st.Parts)
	}
	dir := filepath.Join(r.Path(), d.Dir())
	snapshot := func() map[string]string {
		out := map[string]string{}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			out[e.Name()] = string(b)
		}
		return out
	}
	before := snapshot()
	leftovers := func() {
		t.Helper()
		if ents, _ := os.ReadDir(filepath.Join(r.Path(), "tmp")); len(ents) > 0 {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "arbor-delta-") {
					t.Errorf("tmp/%s left behind", e.Name())
				}
			}
		}
	}
	// Stopped once its first part is written (aside): the old delta is
	// untouched.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for cctx.Err() == nil {
			if m, _ := filepath.Glob(filepath.Join(r.Path(), "tmp", "arbor-delta-*", "0")); len(m) > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	o1 := o
	o1.MaxChunkSize = 256 << 10
	if _, _, err := Generate(cctx, r, o1); !errors.Is(err, context.Canceled) {
		t.Fatalf("a generation stopped after its first part: %v", err)
	}
	if after := snapshot(); !maps.Equal(after, before) {
		t.Fatalf("a cancelled generation changed the delta: %d files, was %d", len(after), len(before))
	}
	leftovers()
	// Made again in one part: no part of the old one is left.
	o2 := o
	o2.MaxChunkSize = 32e6
	if _, st2, err := Generate(ctx, r, o2); err != nil || st2.Parts != 1 {
		t.Fatalf("made again: %d parts, %v", st2.Parts, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("the delta's directory made again: %v, %v (want 0755, as a server reads it)", fi.Mode(), err)
	}
	after := snapshot()
	if _, ok := after["1"]; ok || len(after) != 2 {
		t.Fatalf("made again in one part, the delta holds %d files", len(after))
	}
	leftovers()
	dst := initRepo(t, filepath.Join(tmp, "dst"), store.ModeBareUser)
	if got, err := ApplyOffline(ctx, dst, dir); err != nil || got != c {
		t.Fatalf("the delta made again applies to %s, %v", got, err)
	}
}
