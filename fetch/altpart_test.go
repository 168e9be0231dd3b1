package fetch

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/delta/gnugz"
	"arbor/store/object"
)

// A pull through a delta with an alt part fetches the alt part in place
// of its part (a changed .gz rebuilt from its old text), and the part
// itself when the alt part is missing or is not the one the superblock
// names: either way the files are the commit's.
func TestDeltaPullTakesAltPart(t *testing.T) {
	ctx := context.Background()
	var text strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&text, "  * entry %d: fix %d in the parser, reported by user %d\n", i, i*7%1000, i*13%97)
	}
	gz := func(s string) string {
		b, err := gnugz.Gzip([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3}, []byte(s), 9)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	p := publishTree(t, map[string]string{"doc/changelog.gz": gz(text.String()), "bin/tool": strings.Repeat("code ", 999)})
	cases := []string{"alt part", "alt part missing", "alt part tampered"}
	clients := map[string]*store.Repo{}
	for _, c := range cases {
		clients[c] = newClient(t, p.srv.URL)
		if _, err := Pull(ctx, clients[c], "origin", PullOptions{Refs: []string{"main"}}); err != nil {
			t.Fatal(err)
		}
	}
	newText := "  * a new release\n" + text.String()
	next := publishDelta(t, p, map[string]string{"doc/changelog.gz": gz(newText), "bin/tool": strings.Repeat("code ", 999) + "more"})
	dir := delta.Dir(p.commit, next)
	alt := delta.AltPath(p.commit, next, 1)
	if _, err := os.Stat(filepath.Join(p.repo.Path(), alt)); err != nil {
		t.Fatalf("no alt part: %v", err)
	}
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			switch c {
			case "alt part missing":
				p.set(alt, func(w http.ResponseWriter, r *http.Request) bool { http.NotFound(w, r); return true })
			case "alt part tampered":
				b, err := os.ReadFile(filepath.Join(p.repo.Path(), alt))
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)-20] ^= 1
				p.set(alt, func(w http.ResponseWriter, r *http.Request) bool { w.Write(b); return true })
			}
			p.mu.Lock()
			p.hits = map[string]int{}
			p.mu.Unlock()
			r := clients[c]
			res, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}, RequireStaticDeltas: true})
			if err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			hits := p.hits
			p.mu.Unlock()
			wantPart := 0
			if c != "alt part" {
				wantPart = 1
			}
			if hits[alt] != 1 || hits[dir+"/1"] != wantPart || res.DeltaParts != 2 {
				t.Errorf("fetched the alt part %d times, its part %d times (want %d); %d parts applied", hits[alt], hits[dir+"/1"], wantPart, res.DeltaParts)
			}
			for path, n := range hits {
				if strings.HasPrefix(path, "objects/") && !strings.HasSuffix(path, ".commitmeta") {
					t.Errorf("%s fetched %d times: the delta has it", path, n)
				}
			}
			if got, err := r.ReadRef("origin:main"); err != nil || got != next || r.IsPartial(next) {
				t.Fatalf("origin:main is %s (%v), partial %v", got, err, r.IsPartial(next))
			}
			want, err := p.repo.Lookup(next, "/doc/changelog.gz")
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Lookup(next, "/doc/changelog.gz")
			if err != nil {
				t.Fatal(err)
			}
			if has, _ := r.HasObject(got.File, object.TypeFile); got.File != want.File || !has {
				t.Errorf("changelog.gz after the delta: %s (stored: %v), want %s", got.File, has, want.File)
			}
			p.set(alt, nil)
		})
	}
}
