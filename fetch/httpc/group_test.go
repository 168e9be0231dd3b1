package httpc

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waiting reports how many callers wait on key's fetch, so tests can start
// it only once everyone has joined instead of sleeping and hoping.
func (g *Group) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cl := g.calls[key]; cl != nil {
		return cl.waiters
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		name            string
		callers         int
		cancelled       int // the first this many callers give up early
		wantFnCancelled bool
	}{
		{name: "16 callers, one fetch", callers: 16},
		{name: "one caller cancels", callers: 16, cancelled: 1},
		{name: "all but one cancel", callers: 16, cancelled: 15},
		{name: "all cancel", callers: 4, cancelled: 4, wantFnCancelled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			const key = "objects/ab/cd.filez"
			var runs atomic.Int32
			release := make(chan struct{})
			fnCtxErr := make(chan error, 1)
			fn := func(ctx context.Context) ([]byte, error) {
				runs.Add(1)
				select {
				case <-release:
				case <-ctx.Done():
				}
				fnCtxErr <- ctx.Err()
				return []byte("object"), ctx.Err()
			}

			type result struct {
				b   []byte
				err error
			}
			results := make([]chan result, tc.callers)
			cancels := make([]context.CancelFunc, tc.callers)
			for i := range tc.callers {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cancels[i] = cancel
				results[i] = make(chan result, 1)
				go func() {
					b, err := g.Do(ctx, key, fn)
					results[i] <- result{b, err}
				}()
			}
			waitFor(t, "all callers to join", func() bool { return g.waiting(key) == tc.callers })

			// Cancelled callers return at once, with the fetch still running.
			for i := range tc.cancelled {
				cancels[i]()
				select {
				case r := <-results[i]:
					if !errors.Is(r.err, context.Canceled) || r.b != nil {
						t.Errorf("cancelled caller %d got (%q, %v), want context.Canceled", i, r.b, r.err)
					}
				case <-time.After(time.Second):
					t.Fatalf("cancelled caller %d did not return", i)
				}
			}
			if tc.wantFnCancelled {
				select {
				case err := <-fnCtxErr:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("fn context error %v, want Canceled once every caller left", err)
					}
				case <-time.After(time.Second):
					t.Fatal("fn not cancelled after every caller left")
				}
			} else {
				close(release)
				if err := <-fnCtxErr; err != nil {
					t.Errorf("fn context ended (%v) although callers remained", err)
				}
				for i := tc.cancelled; i < tc.callers; i++ {
					r := <-results[i]
					if r.err != nil || !bytes.Equal(r.b, []byte("object")) {
						t.Errorf("caller %d got (%q, %v)", i, r.b, r.err)
					}
				}
			}
			if n := runs.Load(); n != 1 {
				t.Errorf("fn ran %d times, want 1", n)
			}
		})
	}
}

func TestGroupNotCached(t *testing.T) {
	tests := []struct {
		name string
		fn   func(n int32) ([]byte, error)
	}{
		{name: "error", fn: func(int32) ([]byte, error) { return nil, errors.New("boom") }},
		{name: "success", fn: func(n int32) ([]byte, error) { return []byte{byte(n)}, nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			var runs atomic.Int32
			for i := int32(1); i <= 3; i++ {
				b, err := g.Do(context.Background(), "k", func(context.Context) ([]byte, error) {
					return tc.fn(runs.Add(1))
				})
				wantB, wantErr := tc.fn(i)
				if !bytes.Equal(b, wantB) || (err == nil) != (wantErr == nil) {
					t.Errorf("call %d = (%v, %v), want (%v, %v)", i, b, err, wantB, wantErr)
				}
			}
			if runs.Load() != 3 {
				t.Errorf("fn ran %d times for 3 sequential calls, want 3", runs.Load())
			}
			if g.waiting("k") != 0 || len(g.calls) != 0 {
				t.Error("finished call left behind in the group")
			}
		})
	}
}

func TestGroupPanic(t *testing.T) {
	var g Group
	defer func() {
		if r := recover(); r == nil {
			t.Error("panic in fn was swallowed")
		}
	}()
	g.Do(context.Background(), "k", func(context.Context) ([]byte, error) { panic("kaboom") })
}

// TestGroupClient is the use the Group exists for: 16 readers of one
// uncached object cause one GET.
func TestGroupClient(t *testing.T) {
	release := make(chan struct{})
	s := serve(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		<-release
		ok(w, r)
	})
	c := newClient(t, testOptions(s.URL))
	var g Group
	const readers = 16
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := g.Do(context.Background(), objPath, func(ctx context.Context) ([]byte, error) {
				return c.Get(ctx, objPath, 1<<20)
			})
			if err == nil && !bytes.Equal(b, payload) {
				err = errors.New("wrong body")
			}
			errs <- err
		}()
	}
	waitFor(t, "readers to join", func() bool { return g.waiting(objPath) == readers })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if h := s.hits.Load(); h != 1 {
		t.Errorf("%d readers caused %d GETs, want 1", readers, h)
	}
}
