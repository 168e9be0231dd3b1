package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func signer(e *openpgp.Entity) store.Signer {
	return func(b []byte) ([]byte, error) {
		var out bytes.Buffer
		err := openpgp.DetachSign(&out, e, bytes.NewReader(b), nil)
		return out.Bytes(), err
	}
}

// trustClient makes a client of p whose origin verifies signatures with
// key's public part, or does not verify when key is nil.
func trustClient(t *testing.T, p *published, key *openpgp.Entity) *store.Repo {
	t.Helper()
	r, err := store.Init(filepath.Join(t.TempDir(), "client"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	o := AddOptions{NoGPGVerify: key == nil}
	if key != nil {
		var pub bytes.Buffer
		if err := key.Serialize(&pub); err != nil {
			t.Fatal(err)
		}
		o.GPGImport = filepath.Join(t.TempDir(), "key.gpg")
		if err := os.WriteFile(o.GPGImport, pub.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := AddRemote(r, "origin", p.srv.URL, o); err != nil {
		t.Fatal(err)
	}
	return r
}

func loadIndex(t *testing.T, f *Fetcher, c object.Checksum) (bool, error) {
	t.Helper()
	type res struct {
		ok  bool
		err error
	}
	ch := make(chan res, 1)
	f.LoadTreeIndexAsync(context.Background(), c, func(ok bool, err error) { ch <- res{ok, err} })
	r := <-ch
	return r.ok, r.err
}

// TestTreeIndexTrust: what a fetcher takes from a tree index, by whether
// the remote verifies and how the index is signed or forged.
func TestTreeIndexTrust(t *testing.T) {
	pubKey, otherKey := newKey(t, "Publisher"), newKey(t, "Stranger")
	big := strings.Repeat("b", 64<<10) // more than a header probe fetches
	p := publishTree(t, map[string]string{"big": big, "target": "t"})
	idx := store.TreeIndexPath(p.commit)
	sigPath := store.TreeIndexSigPath(p.commit)
	if err := p.repo.WriteTreeIndexes(context.Background(), signer(pubKey)); err != nil {
		t.Fatal(err)
	}
	genuine, err := os.ReadFile(filepath.Join(p.repo.Path(), idx))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(filepath.Join(p.repo.Path(), sigPath))
	if err != nil {
		t.Fatal(err)
	}
	bigSum := someContent(t, p, "/big")
	bigPath := object.Path(bigSum, object.TypeFile, true)
	// setuid claims the big file is setuid root, in an index otherwise
	// genuine.
	ti, err := store.ParseTreeIndex(genuine)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ti.Files {
		if ti.Files[i].Checksum == bigSum {
			ti.Files[i].Header.Mode = 0o104755
		}
	}
	setuid, err := ti.Encode()
	if err != nil {
		t.Fatal(err)
	}
	otherSig, err := store.AppendSignature(nil, must1(signer(otherKey)(genuine)))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(index, sig []byte) {
		for path, b := range map[string][]byte{idx: index, sigPath: sig} {
			p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
				if b == nil {
					http.NotFound(w, r)
				} else {
					w.Write(b)
				}
				return true
			})
		}
	}
	cases := []struct {
		name         string
		verify       bool
		index, sig   []byte
		verifiedOnly bool
		wantErr      error
		wantSigned   bool
		wantMode     uint32 // 0: the stat fails, the lie found out
		wantFetched  bool   // the big file fetched whole to answer its stat
	}{
		{"verifying, signed", true, genuine, sig, false, nil, true, 0o100644, false},
		{"verifying, unsigned", true, genuine, nil, false, ErrUnsignedIndex, false, 0o100644, true},
		{"verifying, signed by a stranger", true, genuine, otherSig, false, store.ErrForgedIndex, false, 0o100644, true},
		{"verifying, forged after signing", true, setuid, sig, false, store.ErrForgedIndex, false, 0o100644, true},
		{"not verifying, unsigned", false, genuine, nil, false, nil, false, 0o100644, false},
		// The lie is served nowhere: the object fetched whole shows it.
		{"not verifying, setuid mount", false, setuid, nil, true, nil, false, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serve(tc.index, tc.sig)
			var key *openpgp.Entity
			if tc.verify {
				key = pubKey
			}
			r := trustClient(t, p, key)
			f, err := NewFetcher(r, "origin", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ok, err := loadIndex(t, f, p.commit)
			if !errors.Is(err, tc.wantErr) || tc.wantErr != nil && ok {
				t.Fatalf("loading the index: %v, %v; want %v", ok, err, tc.wantErr)
			}
			if tc.wantErr != nil && !strings.Contains(err.Error(), idx) {
				t.Fatalf("the refusal does not name the index: %v", err)
			}
			if got := f.TreeIndexSigned(p.commit); got != tc.wantSigned {
				t.Fatalf("signed: %v, want %v", got, tc.wantSigned)
			}
			p.mu.Lock()
			before := p.hits[bigPath]
			p.mu.Unlock()
			d, err := f.Describe(context.Background(), bigSum, tc.verifiedOnly)
			if tc.wantMode == 0 {
				if !errors.Is(err, store.ErrCorrupt) {
					t.Fatalf("describing a file the index lied about: %v, want %v", err, store.ErrCorrupt)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if d.Header.Mode != tc.wantMode {
				t.Fatalf("stat served mode %o, want %o", d.Header.Mode, tc.wantMode)
			}
			p.mu.Lock()
			fetched := p.hits[bigPath] > before
			p.mu.Unlock()
			if has, _ := f.repo.HasObject(bigSum, object.TypeFile); fetched != tc.wantFetched || tc.wantFetched && !has && !staged(t, f, bigSum) {
				t.Fatalf("the big file fetched: %v (stored %v), want %v", fetched, has, tc.wantFetched)
			}
			// Nothing forged or unsigned from a verifying remote is kept.
			_, kept := os.Stat(filepath.Join(r.Path(), idx))
			if tc.wantErr != nil && kept == nil {
				t.Fatal("a refused index was kept")
			}
		})
	}
}

// staged reports whether the fetcher holds c, stored or staged.
func staged(t *testing.T, f *Fetcher, c object.Checksum) bool {
	ct, err := f.openLocal(context.Background(), c)
	if err != nil {
		return false
	}
	ct.Close()
	return true
}

// TestVerifyingRemoteServesNoProbedHeader: without an index, a verifying
// remote's large file is not described from the start of its object.
func TestVerifyingRemoteServesNoProbedHeader(t *testing.T) {
	key := newKey(t, "Publisher")
	p := publishTree(t, map[string]string{"big": strings.Repeat("b", 64<<10)})
	c := someContent(t, p, "/big")
	path := object.Path(c, object.TypeFile, true)
	var ranges int
	p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Range") != "" {
			p.mu.Lock()
			ranges++
			p.mu.Unlock()
		}
		return false
	})
	r := trustClient(t, p, key)
	f, err := NewFetcher(r, "origin", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Describe(context.Background(), c, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Fetch(context.Background(), index.Ref{Checksum: c, Type: object.TypeFile}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ranges != 0 || p.hits[path] != 1 {
		t.Fatalf("%d range requests and %d requests for the object; want one whole fetch", ranges, p.hits[path])
	}
}

func must1(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestStoredObjectOutranksUnsignedClaim: an unsigned index's claim about
// an object already here is not what stat shows.
func TestStoredObjectOutranksUnsignedClaim(t *testing.T) {
	p := publishTree(t, map[string]string{"big": strings.Repeat("b", 64<<10)})
	if err := p.repo.WriteTreeIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := someContent(t, p, "/big")
	idx := filepath.Join(p.repo.Path(), store.TreeIndexPath(p.commit))
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	ti, err := store.ParseTreeIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ti.Files {
		ti.Files[i].Header.Mode = 0o104755
	}
	if b, err = ti.Encode(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := NewFetcher(trustClient(t, p, nil), "origin", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Fetch(context.Background(), index.Ref{Checksum: c, Type: object.TypeFile}); err != nil {
		t.Fatal(err)
	}
	if ok, err := loadIndex(t, f, p.commit); !ok || err != nil {
		t.Fatalf("loading the unsigned index of a remote that does not verify: %v, %v", ok, err)
	}
	d, ok, err := f.DescribeLocal(c, false)
	if err != nil || !ok || d.Header.Mode != 0o100644 {
		t.Fatalf("stat of an object here: mode %o (%v, %v), want the object's 100644", d.Header.Mode, ok, err)
	}
}

// TestKeptTreeIndexChecked: the copy of a tree index a session keeps is
// not synced, so a crash can leave it cut short. Such a copy is fetched
// again, not used; a whole one answers the session's pulls, with no
// dirtree asked of the remote.
func TestKeptTreeIndexChecked(t *testing.T) {
	ctx := context.Background()
	p := publishTree(t, map[string]string{"a/b/c": "deep", "d": "top"})
	if err := p.repo.WriteTreeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	idx := store.TreeIndexPath(p.commit)
	r := trustClient(t, p, nil)
	kept := filepath.Join(r.Path(), idx)
	hits := func(match func(string) bool) int {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for path, k := range p.hits {
			if match(path) {
				n += k
			}
		}
		return n
	}
	indexHits := func() int { return hits(func(s string) bool { return s == idx }) }
	dirtreeHits := func() int { return hits(func(s string) bool { return strings.HasSuffix(s, ".dirtree") }) }
	keep := func() (*Session, bool) {
		t.Helper()
		s, err := NewSession(r, "origin")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if _, err := s.Pull(ctx, PullOptions{Refs: []string{"main"}, CommitMetadataOnly: true}); err != nil {
			t.Fatal(err)
		}
		fetched, err := s.KeepTreeIndex(ctx, p.commit)
		if err != nil {
			t.Fatal(err)
		}
		return s, fetched
	}
	if _, fetched := keep(); !fetched || indexHits() != 1 {
		t.Fatalf("first keep: fetched %v, %d requests for the index", fetched, indexHits())
	}
	whole, err := os.ReadFile(kept)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(kept, int64(len(whole)/2)); err != nil {
		t.Fatal(err)
	}
	if _, fetched := keep(); !fetched || indexHits() != 2 {
		t.Fatalf("a copy cut short: fetched %v, %d requests for the index, want it fetched again", fetched, indexHits())
	}
	if again, err := os.ReadFile(kept); err != nil || !bytes.Equal(again, whole) {
		t.Fatalf("the copy kept again is not the index (%d bytes, %v)", len(again), err)
	}
	s, fetched := keep()
	if fetched || indexHits() != 2 {
		t.Fatalf("a whole copy: fetched %v, %d requests for the index, want it used", fetched, indexHits())
	}
	before := dirtreeHits()
	if _, err := s.Pull(ctx, PullOptions{Refs: []string{"main@" + p.commit.String()}, Subpaths: []string{"/a/b"}}); err != nil {
		t.Fatal(err)
	}
	if n := dirtreeHits() - before; n != 0 {
		t.Fatalf("the pull asked the remote for %d dirtrees the kept index holds", n)
	}
	if has, err := r.HasObject(someContent(t, p, "/a/b/c"), object.TypeFile); err != nil || !has {
		t.Fatalf("the pull did not store a/b/c: %v, %v", has, err)
	}
}
