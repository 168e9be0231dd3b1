package fetch

import (
	"context"
	"testing"
)

func TestPullLocalCache(t *testing.T) {
	files := map[string]string{"a": "alpha\n", "dir/b": "beta\n", "dir/c": "gamma\n"}
	for _, tc := range []struct {
		name     string
		useCache bool
		wantHits bool // the remote served content objects
	}{
		{"no cache: everything fetched", false, true},
		{"cache: content copied, none fetched", true, false},
	} {
		p := publishTree(t, files)
		cache := newClient(t, p.srv.URL)
		if _, err := Pull(context.Background(), cache, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		p.hits = map[string]int{}
		p.mu.Unlock()
		r := newClient(t, p.srv.URL)
		opts := PullOptions{Refs: []string{"main"}}
		if tc.useCache {
			opts.LocalCache = cache.Path()
		}
		res, err := Pull(context.Background(), r, "origin", opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := res.Content > 0; got != tc.wantHits {
			t.Errorf("%s: %d content objects fetched", tc.name, res.Content)
		}
		if tc.useCache && (res.LocalContent != 3 || res.LocalMeta == 0) {
			t.Errorf("%s: %d content, %d meta local; want 3 and some", tc.name, res.LocalContent, res.LocalMeta)
		}
		if n, err := r.Lookup(res.Refs["main"], "/dir/b"); err != nil || n.File.IsZero() {
			t.Errorf("%s: /dir/b not in the pulled commit: %v", tc.name, err)
		}
	}
}
