package httpc

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Group merges concurrent fetches of the same key into one (a
// singleflight), so that many readers of one uncached object — e.g. FUSE
// reads of the same file — cause a single GET. Unlike a plain singleflight,
// a waiter whose context ends leaves without cancelling the shared fetch;
// the fetch is cancelled only once every waiter has left. Results are not
// cached: a Do after a fetch finished starts a new one. The zero Group is
// ready to use.
type Group struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done    chan struct{}
	val     []byte
	err     error
	panic   string // set if fn panicked; re-raised in every waiter
	waiters int
	cancel  context.CancelFunc
}

// Do returns fn's result for key, running fn only if no fetch for key is
// already in flight. fn gets a context that carries the first caller's
// values but none of its deadline or cancellation. The returned slice is
// shared by all callers and must not be modified.
func (g *Group) Do(ctx context.Context, key string, fn func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call)
	}
	cl, ok := g.calls[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = cl
		go g.run(fctx, key, cl, fn)
	}
	cl.waiters++
	g.mu.Unlock()

	select {
	case <-cl.done:
		if cl.panic != "" {
			panic(cl.panic)
		}
		return cl.val, cl.err
	case <-ctx.Done():
		g.mu.Lock()
		cl.waiters--
		if cl.waiters == 0 {
			// Nobody wants the result any more: stop the fetch, and let the
			// next caller start afresh rather than join a cancelled one.
			cl.cancel()
			if g.calls[key] == cl {
				delete(g.calls, key)
			}
		}
		g.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (g *Group) run(ctx context.Context, key string, cl *call, fn func(context.Context) ([]byte, error)) {
	normal := false
	defer func() {
		if !normal {
			// fn panicked (or called runtime.Goexit): waiters must not
			// block forever, and a panic should surface where the result
			// is used, as it would without the Group.
			if r := recover(); r != nil {
				cl.panic = fmt.Sprintf("httpc.Group: fetch of %q panicked: %v\n%s", key, r, debug.Stack())
			} else {
				cl.err = fmt.Errorf("httpc.Group: fetch of %q exited without a result", key)
			}
		}
		g.mu.Lock()
		if g.calls[key] == cl {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		cl.cancel()
		close(cl.done)
	}()
	cl.val, cl.err = fn(ctx)
	normal = true
}
