package delta

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store"
	"arbor/store/delta/gnugz"
	"arbor/store/object"
)

// changelog is n entries of a changelog's kind of text.
func changelog(seed uint64, n int) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("fix the build on arm64 update upstream release security issue memory leak in parser when reading certificates patch from upstream new symbols closes bug")
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "package (%d.%d-1) unstable; urgency=medium\n\n", seed, i)
		for j := 0; j < 4; j++ {
			b.WriteString("  *")
			for k := 0; k < 8+rng.IntN(6); k++ {
				b.WriteString(" " + words[rng.IntN(len(words))])
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\n -- A Maintainer <m@example.org>  Mon, %02d Jan 2026 10:00:00 +0000\n\n", i%28+1)
	}
	return b.String()
}

// gz is text as gzip -n writes it at level (9 marked so in XFL).
func gz(t *testing.T, text string, level int) string {
	t.Helper()
	h := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}
	if level == 9 {
		h[8] = 2
	}
	b, err := gnugz.Gzip(h, []byte(text), level)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A changed .gz that gzip made goes to a part of its own, which ostree
// reads, and to that part's alt part, which rebuilds it from the old
// version's text in a fraction of the size. A .gz that another
// compressor made is carried as any file. The alt part's objects are
// those of its part; it is checked against its own checksum, and its op
// is refused in a part of ostree's kind and where what it makes is not
// the object.
func TestAltPartRebuildsGzip(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	old, added := changelog(1, 600), changelog(2, 3)
	var other bytes.Buffer
	w, _ := gzip.NewWriterLevel(&other, gzip.BestCompression)
	w.Write([]byte(changelog(3, 400)))
	w.Close()
	var other2 bytes.Buffer
	w, _ = gzip.NewWriterLevel(&other2, gzip.BestCompression)
	w.Write([]byte(changelog(3, 400) + "more\n"))
	w.Close()
	// A text that compresses well: its patch is far larger than the file
	// it makes, and the alt part declares its payload so.
	big := strings.Repeat("a line that repeats in the log, nearly the same each time\n", 30000)
	v1 := map[string]string{"changelog.gz": gz(t, old, 9), "man.1.gz": gz(t, old[:40000], 6), "other.gz": other.String(), "plain": "text", "big.gz": gz(t, big, 9)}
	v2 := map[string]string{"changelog.gz": gz(t, added+old, 9), "man.1.gz": gz(t, old[:40000]+"a new option\n", 6), "other.gz": other2.String(), "plain": "text", "big.gz": gz(t, "a first line\n"+big, 9)}
	c1 := commitFiles(t, r, filepath.Join(tmp, "v1"), v1)
	c2 := commitFiles(t, r, filepath.Join(tmp, "v2"), v2)
	o := DefaultGenerateOptions()
	o.From, o.To = c1, c2
	d, st, err := Generate(ctx, r, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Gzip != 3 {
		t.Errorf("%d files rebuilt from their texts, want 3 (not other.gz)", st.Gzip)
	}
	sbFile, err := os.ReadFile(filepath.Join(r.Path(), d.Dir(), "superblock"))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ParseSuperblock(sbFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(sb.Parts) != 2 || len(sb.Alts) != 1 || sb.Alts[0].Part != 1 {
		t.Fatalf("%d parts, alt parts %+v; want the second part's", len(sb.Parts), sb.Alts)
	}
	a := sb.Alts[0]
	altFile, err := os.ReadFile(filepath.Join(r.Path(), AltPath(c1, c2, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if int64(a.Size) >= int64(sb.Parts[1].Size)/4 || st.ArborBytes >= st.Bytes-int64(sb.Parts[1].Size)*3/4 {
		t.Errorf("the alt part is %d bytes, its part %d; arbor fetches %d of %d", a.Size, sb.Parts[1].Size, st.ArborBytes, st.Bytes)
	}

	// Applied with the alt part in place of its part.
	r2 := clientAt(t, r, c1, filepath.Join(tmp, "client"))
	txn, err := r2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	if err := WriteCommit(r2, txn, sb, nil); err != nil {
		t.Fatal(err)
	}
	part0, err := os.ReadFile(filepath.Join(r.Path(), d.Dir(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyPart(sb, 0, part0, false, TxnSink{Txn: txn}); err != nil {
		t.Fatal(err)
	}
	p, err := DecodeAlt(sb, 1, altFile)
	if err != nil {
		t.Fatal(err)
	}
	// Its files made ahead, from the sources stored: the run takes them
	// (this sink's sources are not there).
	p.Prebuild(ctx, sb.Parts[1], StoredSource(r2))
	if len(p.pre) != 3 {
		t.Errorf("%d files made ahead, want 3", len(p.pre))
	}
	lacking := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}, src: map[object.Checksum][]byte{}}
	if err := RunPart(sb, 1, p, lacking); err != nil || len(lacking.content) != 3 {
		t.Fatalf("the alt part's run with its files made ahead: %v, %d made", err, len(lacking.content))
	}
	if p, err = DecodeAlt(sb, 1, altFile); err != nil {
		t.Fatal(err)
	}
	if err := RunPart(sb, 1, p, TxnSink{Txn: txn}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	for name, want := range v2 {
		ct, err := r.OpenContent(fileAt(t, r, c2, name))
		if err != nil {
			t.Fatal(err)
		}
		ct.Close()
		got, err := r2.OpenContent(fileAt(t, r, c2, name))
		if err != nil {
			t.Fatalf("%s not made: %v", name, err)
		}
		b := make([]byte, got.Size)
		got.Read(b)
		got.Close()
		if string(b) != want {
			t.Errorf("%s: made %d bytes, not the file", name, len(b))
		}
	}

	// Refused: an alt part not the superblock's, its op in a part of
	// ostree's kind, and an op that makes other bytes than the object.
	bad := bytes.Clone(altFile)
	bad[len(bad)/2] ^= 1
	if _, err := DecodeAlt(sb, 1, bad); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "alt part 1") {
		t.Errorf("a tampered alt part: %v", err)
	}
	plain, err := openPart(altHeader(sb, a), altFile, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}, src: map[object.Checksum][]byte{}}
	if err := plain.Apply(sb.Parts[1], sink); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "unknown op 'Z'") {
		t.Errorf("the gzip op in an ostree part: %v", err)
	}
	oldGz, newGz := []byte(v1["changelog.gz"]), []byte(v2["changelog.gz"])
	rec := gzipRecipe(oldGz, newGz, 1<<20)
	if rec == nil || rec.level != 9 {
		t.Fatalf("recipe %+v", rec)
	}
	for _, lie := range []func(*gzRecipe){
		func(r *gzRecipe) { r.level = 4 },      // other bytes
		func(r *gzRecipe) { r.oldText-- },      // not the source's text
		func(r *gzRecipe) { r.header[9] = 11 }, // another header: another checksum
	} {
		rc := *rec
		rc.header = bytes.Clone(rec.header)
		lie(&rc)
		hdr := object.FileHeader{Mode: 0o100644}
		oldC, newC := object.ContentChecksum(&hdr, oldGz), object.ContentChecksum(&hdr, newGz)
		b := newPartBuilder(nil)
		b.gzip(ObjectRef{Type: object.TypeFile, Checksum: newC}, &hdr, oldC, &rc, len(newGz))
		pl, err := b.payload()
		if err != nil {
			t.Fatal(err)
		}
		f, _ := splitPart(append(append(pl[0], pl[1]...), pl[2]...))
		part := &Part{Modes: b.modeList, Xattrs: b.xattrList, Blob: f[2], Ops: f[3], alt: true}
		s := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}, src: map[object.Checksum][]byte{oldC: oldGz}}
		if err := part.Apply(PartHeader{Objects: b.objects}, s); !errors.Is(err, ErrCorrupt) || len(s.content) != 0 {
			t.Errorf("a lying recipe: %v, %d stored", err, len(s.content))
		}
	}
}

// clientAt is a bare-user repository at dir holding commit c of r,
// applied from the delta from scratch.
func clientAt(t *testing.T, r *store.Repo, c object.Checksum, dir string) *store.Repo {
	t.Helper()
	ctx := context.Background()
	r2 := initRepo(t, dir, store.ModeBareUser)
	o := DefaultGenerateOptions()
	o.To = c
	d, _, err := Generate(ctx, r, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyOffline(ctx, r2, filepath.Join(r.Path(), d.Dir())); err != nil {
		t.Fatal(err)
	}
	return r2
}

// fileAt is the checksum of the file at name in commit c's root.
func fileAt(t *testing.T, r *store.Repo, c object.Checksum, name string) object.Checksum {
	t.Helper()
	var out object.Checksum
	if err := paths(context.Background(), r, c, func(p string, sum object.Checksum) {
		if strings.TrimPrefix(p, "/") == name {
			out = sum
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A patch made of block matches makes the new text from the old one,
// whatever the matches: none, at the start, moved about.
func TestMatchPatch(t *testing.T) {
	old := changelog(5, 200)
	for name, data := range map[string]string{
		"prepended": changelog(6, 3) + old,
		"appended":  old + "the end\n",
		"moved":     old[len(old)/2:] + "between\n" + old[:len(old)/2],
		"nothing":   changelog(7, 50),
		"empty":     "",
		"same":      old,
	} {
		ms := matchBlocks([]byte(old), []byte(data))
		got, err := Bspatch([]byte(old), matchPatch([]byte(data), ms), uint64(len(data)))
		if err != nil || string(got) != data {
			t.Errorf("%s: %d matches made %d bytes of %d: %v", name, len(ms), len(got), len(data), err)
		}
	}
}

// Alt parts close with their parts at --max-chunk-size, and either's
// filling closes both: each stands for its own part, and the update
// applies through them all. No part is empty, even when every object
// fills one (a .gz file goes to its own part, not the one before it).
func TestAltPartsFollowChunks(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	v1, v2 := map[string]string{}, map[string]string{}
	for i := 0; i < 5; i++ {
		text := changelog(uint64(10+i), 150)
		name := fmt.Sprintf("changelog%d.gz", i)
		v1[name], v2[name] = gz(t, text, 9), gz(t, changelog(uint64(20+i), 1)+text, 9)
	}
	c1 := commitFiles(t, r, filepath.Join(tmp, "v1"), v1)
	c2 := commitFiles(t, r, filepath.Join(tmp, "v2"), v2)
	r2 := clientAt(t, r, c1, filepath.Join(tmp, "client"))
	for _, chunk := range []int64{64 << 10, 1} {
		o := DefaultGenerateOptions()
		o.From, o.To, o.MaxChunkSize = c1, c2, chunk
		d, st, err := Generate(ctx, r, o)
		if err != nil {
			t.Fatal(err)
		}
		sb, _, err := Read(r.Path(), d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Gzip != 5 || len(sb.Alts) < 3 {
			t.Fatalf("chunks of %d: %d files in %d alt parts of %d parts; want 5 in several", chunk, st.Gzip, len(sb.Alts), len(sb.Parts))
		}
		for i, h := range sb.Parts {
			if len(h.Objects) == 0 {
				t.Errorf("chunks of %d: part %d of %d is empty", chunk, i, len(sb.Parts))
			}
		}
		sink := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}, src: map[object.Checksum][]byte{}}
		for _, a := range sb.Alts {
			f, err := os.ReadFile(filepath.Join(r.Path(), AltPath(c1, c2, a.Part)))
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodeAlt(sb, a.Part, f)
			if err != nil {
				t.Fatal(err)
			}
			p.Prebuild(ctx, sb.Parts[a.Part], StoredSource(r2))
			if err := RunPart(sb, a.Part, p, sink); err != nil {
				t.Fatal(err)
			}
		}
		for name, want := range v2 {
			if got := sink.content[fileAt(t, r, c2, name)]; string(got) != want {
				t.Errorf("chunks of %d: %s: made %d bytes, not the file", chunk, name, len(got))
			}
		}
	}
}
