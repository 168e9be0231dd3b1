package center

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Drain returns once the job the center was running has stopped, after
// its context ended, and not before; it gives up at its own context's
// end when a job does not stop.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		linger  time.Duration // how long the job runs on once cancelled
		wait    time.Duration // how long Drain waits
		drained bool
	}{
		{"a job that stops", 100 * time.Millisecond, 5 * time.Second, true},
		{"a job that does not", 2 * time.Second, 50 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := New(ctx, nopBackend{})
			started := make(chan struct{})
			var ended atomic.Bool
			if _, err := c.StartFunc("install", "apps/x", "x", func(ctx context.Context, p Progress) (*Result, error) {
				close(started)
				<-ctx.Done()
				time.Sleep(tc.linger) // a step that finishes what it began
				ended.Store(true)
				return nil, ctx.Err()
			}); err != nil {
				t.Fatal(err)
			}
			<-started
			cancel()
			dctx, dcancel := context.WithTimeout(context.Background(), tc.wait)
			defer dcancel()
			err := c.Drain(dctx)
			if (err == nil) != tc.drained || tc.drained && !ended.Load() {
				t.Errorf("Drain: %v, the job ended: %v", err, ended.Load())
			}
			if !tc.drained {
				// The test's end waits for it, too.
				if err := c.Drain(context.Background()); err != nil || !ended.Load() {
					t.Errorf("Drain without a bound: %v, ended %v", err, ended.Load())
				}
			}
		})
	}
}
