package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
	"arbor/tests/hostile"
)

// published is an archive repo with one commit, served by a Go test server
// whose handler can be told to misbehave for given paths.
type published struct {
	repo   *store.Repo
	commit object.Checksum
	srv    *httptest.Server

	mu       sync.Mutex
	override map[string]func(w http.ResponseWriter, r *http.Request) bool // true: handled
	hits     map[string]int
	conns    atomic.Int64 // connections the server accepted
}

func publishTree(t *testing.T, files map[string]string) *published {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for p, c := range files {
		full := filepath.Join(src, p)
		if strings.HasSuffix(p, "/") { // an empty directory
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := store.Init(filepath.Join(dir, "pub"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c, _, err := r.CommitDir(context.Background(), src, store.CommitOptions{Branch: "main", OwnerUID: 0, OwnerGID: 0, NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := r.BuildSummary(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteSummary(sb, nil); err != nil {
		t.Fatal(err)
	}
	p := &published{repo: r, commit: c, override: map[string]func(http.ResponseWriter, *http.Request) bool{}, hits: map[string]int{}}
	files2 := http.FileServer(http.Dir(r.Path()))
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		path := strings.TrimPrefix(req.URL.Path, "/")
		p.mu.Lock()
		p.hits[path]++
		f := p.override[path]
		p.mu.Unlock()
		if f != nil && f(w, req) {
			return
		}
		files2.ServeHTTP(w, req)
	}))
	p.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			p.conns.Add(1)
		}
	}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *published) set(path string, f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	p.override[path] = f
	p.mu.Unlock()
}

func newClient(t *testing.T, url string) *store.Repo {
	t.Helper()
	r, err := store.Init(filepath.Join(t.TempDir(), "client"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := AddRemote(r, "origin", url, AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	return r
}

func someContent(t *testing.T, p *published, path string) object.Checksum {
	t.Helper()
	n, err := p.repo.Lookup(p.commit, path)
	if err != nil {
		t.Fatal(err)
	}
	return n.File
}

func TestPullFaults(t *testing.T) {
	files := map[string]string{"a": "alpha\n", "dir/b": strings.Repeat("beta", 10000), "dir/c": "gamma"}
	tests := []struct {
		name  string
		setup func(t *testing.T, p *published) string // returns what the error must name; "" = must succeed
	}{
		{"wrong bytes", func(t *testing.T, p *published) string {
			bad := someContent(t, p, "/a")
			other, _ := os.ReadFile(p.repo.ObjectPath(someContent(t, p, "/dir/c"), object.TypeFile))
			p.set(object.Path(bad, object.TypeFile, true), func(w http.ResponseWriter, r *http.Request) bool {
				w.Write(other)
				return true
			})
			return bad.String()
		}},
		{"missing object", func(t *testing.T, p *published) string {
			gone := someContent(t, p, "/dir/b")
			p.set(object.Path(gone, object.TypeFile, true), func(w http.ResponseWriter, r *http.Request) bool {
				http.NotFound(w, r)
				return true
			})
			return gone.String()
		}},
		{"corrupt dirtree", func(t *testing.T, p *published) string {
			n, _ := p.repo.Lookup(p.commit, "/dir")
			p.set(object.Path(n.Tree, object.TypeDirTree, true), func(w http.ResponseWriter, r *http.Request) bool {
				w.Write([]byte{0})
				return true
			})
			return n.Tree.String()
		}},
		{"truncated body, then whole", func(t *testing.T, p *published) string {
			path := object.Path(someContent(t, p, "/dir/b"), object.TypeFile, true)
			whole, _ := os.ReadFile(filepath.Join(p.repo.Path(), path))
			var once sync.Once
			p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
				cut := false
				once.Do(func() { cut = true })
				if !cut {
					return false
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(whole)))
				w.Write(whole[:len(whole)/2])
				return true // the server closes a response shorter than announced
			})
			return ""
		}},
		{"dropped connection, then whole", func(t *testing.T, p *published) string {
			path := object.Path(someContent(t, p, "/a"), object.TypeFile, true)
			var once sync.Once
			p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
				drop := false
				once.Do(func() { drop = true })
				if !drop {
					return false
				}
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return true
			})
			return ""
		}},
		{"every first request fails", func(t *testing.T, p *published) string {
			seen := map[string]bool{}
			var mu sync.Mutex
			for _, path := range []string{object.Path(someContent(t, p, "/a"), object.TypeFile, true), "summary"} {
				p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
					mu.Lock()
					defer mu.Unlock()
					if seen[r.URL.Path] {
						return false
					}
					seen[r.URL.Path] = true
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return true
				})
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := publishTree(t, files)
			want := tc.setup(t, p)
			r := newClient(t, p.srv.URL)
			_, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}})
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c, err := r.ReadRef("origin:main"); err != nil || c != p.commit {
					t.Fatalf("ref %s %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v does not name %s", err, want)
			}
			if _, err := r.ReadRef("origin:main"); !errors.Is(err, store.ErrRefNotFound) {
				t.Fatalf("ref written after a failed pull: %v", err)
			}
			// Nothing unverified was kept: what is in the store is sound.
			res, err := r.Fsck(context.Background(), nil)
			if err != nil || len(res.Problems) != 0 {
				t.Fatalf("fsck after failed pull: %v %v", err, res.Problems)
			}
			bad, _ := object.ParseChecksum(want)
			idx, _ := r.Index(context.Background())
			for _, typ := range []object.Type{object.TypeFile, object.TypeDirTree} {
				if has, _ := idx.Has(index.Ref{Checksum: bad, Type: typ}); has {
					t.Fatalf("bad object %s was stored", want)
				}
				if has, _ := r.HasObject(bad, typ); has {
					t.Fatalf("bad object %s is in objects/", want)
				}
			}
		})
	}
}

func TestPullResumesWithoutRefetching(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 40; i++ {
		files[filepath.Join("d", string(rune('a'+i%26))+strings.Repeat("x", i))] = strings.Repeat("y", i*100)
	}
	p := publishTree(t, files)
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	first := len(p.hits)
	p.hits = map[string]int{}
	p.mu.Unlock()
	// A second pull of the same commit fetches no object at all, but
	// the commit's detached metadata: its signatures may have changed.
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for path := range p.hits {
		if strings.HasPrefix(path, "objects/") && !strings.HasSuffix(path, ".commitmeta") {
			t.Errorf("second pull fetched %s again (first pull made %d requests)", path, first)
		}
	}
}

func TestFetcherMergesConcurrentRequests(t *testing.T) {
	p := publishTree(t, map[string]string{"big": strings.Repeat("z", 1<<20)})
	c := someContent(t, p, "/big")
	path := object.Path(c, object.TypeFile, true)
	release := make(chan struct{})
	p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
		<-release // hold the download until every reader has asked
		return false
	})
	r := newClient(t, p.srv.URL)
	f, err := NewFetcher(r, "origin", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f.Fetch(context.Background(), index.Ref{Checksum: c, Type: object.TypeFile})
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	n := p.hits[path]
	p.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d GETs for one object, want 1", n)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyObject(index.Ref{Checksum: c, Type: object.TypeFile}); err != nil {
		t.Fatal(err)
	}
}

func TestPullDeadFirstMirror(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	r := newClient(t, "http://127.0.0.1:1/")
	if err := r.EditConfig(func(c store.ConfigFile) error { c.Set(`remote "origin"`, "mirrors", p.srv.URL+";"); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	if c, err := r.ReadRef("origin:main"); err != nil || c != p.commit {
		t.Fatalf("ref %s %v", c, err)
	}
}

// TestPullSharedSubtrees: a subtree that appears in many places is fetched
// once and walked once, and every place gets it.
func TestPullSharedSubtrees(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 20; i++ {
		files[filepath.Join("d"+strings.Repeat("x", i), "same", "f")] = "shared"
		files[filepath.Join("d"+strings.Repeat("x", i), "own")] = strings.Repeat("o", i)
	}
	for i := 0; i < 10; i++ {
		files[filepath.Join("e"+strings.Repeat("y", i), "empty")+"/"] = ""
	}
	p := publishTree(t, files)
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Fsck(context.Background(), nil)
	if err != nil || len(res.Problems) != 0 || res.Partial != 0 {
		t.Fatalf("fsck: %v %+v", err, res)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for path, n := range p.hits {
		if n > 1 {
			t.Errorf("%s fetched %d times", path, n)
		}
	}
}

func TestPullSubpath(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha", "dir/b": "beta", "dir/sub/c": "gamma", "other/d": "delta"})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, Subpaths: []string{"/dir"}}); err != nil {
		t.Fatal(err)
	}
	if !r.IsPartial(p.commit) {
		t.Fatal("a subpath pull left the commit marked complete")
	}
	for path, want := range map[string]bool{"/dir/b": true, "/dir/sub/c": true, "/a": false, "/other/d": false} {
		has, _ := r.HasObject(someContent(t, p, path), object.TypeFile)
		if has != want {
			t.Errorf("%s present=%v, want %v", path, has, want)
		}
	}
	if res, err := r.Fsck(context.Background(), nil); err != nil || len(res.Problems) != 0 {
		t.Fatalf("fsck of a partial commit: %v %v", err, res.Problems)
	}
	// Another subpath of the stored commit, pinned, asks nothing of the
	// summary; a pinned commit not stored still does.
	p.mu.Lock()
	before := p.hits["summary"]
	p.mu.Unlock()
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main@" + p.commit.String()}, Subpaths: []string{"/other"}}); err != nil {
		t.Fatal(err)
	}
	if has, _ := r.HasObject(someContent(t, p, "/other/d"), object.TypeFile); !has {
		t.Error("the pinned subpath pull left /other/d out")
	}
	p.mu.Lock()
	after := p.hits["summary"]
	p.mu.Unlock()
	if after != before {
		t.Errorf("a pinned pull of a stored commit fetched the summary %d times", after-before)
	}
	if pinnedAndStored(r, []string{"main@" + strings.Repeat("ab", 32)}) || pinnedAndStored(r, []string{"main"}) || pinnedAndStored(r, nil) {
		t.Error("pinnedAndStored said yes to a commit not stored, an unpinned ref or no refs")
	}
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	if r.IsPartial(p.commit) {
		t.Fatal("commit still partial after a full pull")
	}
}

// TestPullRefusesTooDeepTrees: as ostree's pull, directories nested
// deeper than its limit are refused, naming the commit and the path; the
// limit itself pulls.
func TestPullRefusesTooDeepTrees(t *testing.T) {
	ctx := context.Background()
	src, err := store.Init(filepath.Join(t.TempDir(), "src"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	deep, err := hostile.Chain(ctx, src, "deep", store.MaxTreeDepth+1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hostile.Chain(ctx, src, "ok", store.MaxTreeDepth); err != nil {
		t.Fatal(err)
	}
	srcPath := src.Path()
	src.Close()
	for _, tc := range []struct {
		ref  string
		fail bool
	}{{"ok", false}, {"deep", true}} {
		t.Run(tc.ref, func(t *testing.T) {
			r, err := store.Init(filepath.Join(t.TempDir(), "repo"), store.ModeBareUser)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = PullLocal(ctx, r, srcPath, []string{tc.ref}, PullOptions{})
			if !tc.fail {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, store.ErrTooDeep) || !strings.Contains(err.Error(), deep.String()) || !strings.Contains(err.Error(), "/d/d/") {
				t.Errorf("pull of a tree %d deep: %v, want %v naming the commit and path", store.MaxTreeDepth+1, err, store.ErrTooDeep)
			}
		})
	}
}

// A session asks its source once for a commit's detached metadata: the
// commit of an install's first pull, then its files, cost one request,
// as the summary does; a new session asks again, and sees signatures
// added since.
func TestSessionAsksDetachedOnce(t *testing.T) {
	ctx := context.Background()
	p := publishTree(t, map[string]string{"a": "a", "dir/b": "b"})
	r := newClient(t, p.srv.URL)
	meta := strings.TrimPrefix(object.Path(p.commit, object.TypeCommitMeta, true), "/")
	asked := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.hits[meta]
	}
	s, err := NewSession(r, "origin")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Pull(ctx, PullOptions{Refs: []string{"main"}, CommitMetadataOnly: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(ctx, PullOptions{Refs: []string{"main@" + p.commit.String()}, Subpaths: []string{"/dir"}}); err != nil {
		t.Fatal(err)
	}
	if n := asked(); n != 1 {
		t.Fatalf("one session asked for %s %d times, want once", meta, n)
	}
	if _, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	if n := asked(); n != 2 {
		t.Fatalf("a new session did not ask for %s again (%d requests)", meta, n)
	}
}
