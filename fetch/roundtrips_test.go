package fetch

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/object"
)

// holder holds the server's answers to chosen paths until released, and
// says which of them were asked for meanwhile: requests that arrive
// together while every answer is held were sent without waiting for one
// another, which over a wide area link is one round trip, not several.
type holder struct {
	mu      sync.Mutex
	held    map[string]bool
	arrived chan string
	release chan struct{}
}

func hold(p *published, paths ...string) *holder {
	h := &holder{held: map[string]bool{}, arrived: make(chan string, 16), release: make(chan struct{})}
	for _, path := range paths {
		h.held[path] = true
		p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
			h.arrived <- path
			<-h.release
			return false // then served as it is
		})
	}
	return h
}

// await waits until every held path was asked for, with no answer given,
// then releases them. It returns those still not asked for after a long
// while (their requests waited for an answer held here).
func (h *holder) await() []string {
	missing := map[string]bool{}
	for p := range h.held {
		missing[p] = true
	}
	deadline := time.After(20 * time.Second)
	for len(missing) > 0 {
		select {
		case p := <-h.arrived:
			delete(missing, p)
		case <-deadline:
			close(h.release)
			return keys(missing)
		}
	}
	close(h.release)
	return nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An update through a static delta sends its requests in two rounds, as
// few as their dependencies allow: the summary and its signatures
// together (with the connections the next round needs opened meanwhile),
// then, once the summary names the commit and the delta, the delta's
// superblock, its first part and the commit's detached metadata together,
// none waiting for another's answer. The delta index the summary makes
// unnecessary is not fetched, and the detached metadata is fetched once.
// Nothing of it is used unchecked: a part tampered with is refused (see
// TestDeltaPullSpeculativePartChecked).
func TestDeltaPullRoundTrips(t *testing.T) {
	ctx := context.Background()
	p := publishTree(t, map[string]string{"a": strings.Repeat("alpha\n", 500), "dir/b": "beta"})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	next := publishDelta(t, p, map[string]string{"a": strings.Repeat("alpha, changed\n", 500), "dir/b": "beta", "dir/c": "gamma"})
	dir := delta.Dir(p.commit, next)
	p.conns.Store(0)
	p.mu.Lock()
	p.hits = map[string]int{}
	p.mu.Unlock()

	first := hold(p, "summary", "summary.sig")
	second := hold(p, dir+"/superblock", dir+"/0", object.Path(next, object.TypeCommitMeta, true))
	done := make(chan error, 1)
	var res *Result
	go func() {
		var err error
		res, err = Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}})
		done <- err
	}()
	missing1 := first.await()
	missing2 := second.await()
	err := <-done
	if missing1 != nil {
		t.Errorf("%v not asked for while the other answers of the summary were held", missing1)
	}
	if missing2 != nil {
		t.Errorf("%v not asked for while the other answers of the delta were held: the pull waited for them first", missing2)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := r.ReadRef("origin:main"); c != next {
		t.Fatalf("origin:main is %s, want %s", c, next)
	}
	if res.DeltaParts != 1 {
		t.Errorf("%d delta parts applied, want 1", res.DeltaParts)
	}
	p.mu.Lock()
	hits := p.hits
	p.mu.Unlock()
	for path, n := range hits {
		if strings.HasPrefix(path, "delta-indexes/") {
			t.Errorf("%s fetched %d times: the summary lists the delta", path, n)
		}
		if n > 1 {
			t.Errorf("%s fetched %d times", path, n)
		}
	}
	// Four connections, opened while the summary was asked for: the
	// second round found them open.
	if n := p.conns.Load(); n != pullConns {
		t.Errorf("%d connections, want %d", n, pullConns)
	}
}

// The first part, asked for beside the superblock before that is
// checked, is decoded only once it matches the verified superblock: a
// tampered one is refused, and the pull falls back to objects.
func TestDeltaPullSpeculativePartChecked(t *testing.T) {
	ctx := context.Background()
	p := publishTree(t, map[string]string{"a": strings.Repeat("alpha\n", 500)})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	next := publishDelta(t, p, map[string]string{"a": strings.Repeat("alpha, changed\n", 500)})
	part := filepath.Join(p.repo.Path(), delta.Dir(p.commit, next), "0")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(part, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}, RequireStaticDeltas: true}); err == nil || !strings.Contains(err.Error(), "part 0") {
		t.Fatalf("a tampered first part with --require-static-deltas: %v", err)
	}
	var warned []string
	res, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}, Warn: func(w string) { warned = append(warned, w) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeltaParts != 0 || len(warned) == 0 || !strings.Contains(warned[0], "part 0") {
		t.Errorf("%d parts applied, warnings %q; want the part refused", res.DeltaParts, warned)
	}
	if c, _ := r.ReadRef("origin:main"); c != next {
		t.Fatalf("origin:main is %s, want %s", c, next)
	}
}

// publishDelta commits files as the next commit of p's main, with the
// delta from p's commit to it, and a summary listing the delta.
func publishDelta(t *testing.T, p *published, files map[string]string) object.Checksum {
	t.Helper()
	ctx := context.Background()
	src := t.TempDir()
	for name, c := range files {
		full := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	next, _, err := p.repo.CommitDir(ctx, src, store.CommitOptions{Branch: "main", NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	o := delta.DefaultGenerateOptions()
	o.From, o.To = p.commit, next
	if _, _, err := delta.Generate(ctx, p.repo, o); err != nil {
		t.Fatal(err)
	}
	sums, err := delta.Reindex(ctx, p.repo)
	if err != nil {
		t.Fatal(err)
	}
	v := delta.DeltasVariant(sums)
	sb, err := p.repo.BuildSummary(time.Now(), &v)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.repo.WriteSummary(sb, nil); err != nil {
		t.Fatal(err)
	}
	return next
}
