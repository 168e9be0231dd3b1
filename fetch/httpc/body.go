package httpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// body wraps a response body (or a local file) to count bytes, fail reads
// that stall longer than the idle timeout, and turn a short body into
// ErrTruncated instead of a silent io.EOF.
type body struct {
	rc      io.ReadCloser
	ctx     context.Context         // the request's; nil for files
	cancel  context.CancelCauseFunc // ends the request; nil for files
	idle    time.Duration
	stall   *timeoutError
	timer   *time.Timer // armed only while a Read is in progress
	want    int64       // Content-Length, or -1
	got     int64
	counter *atomic.Int64
	label   string // prefix for read errors once handed to a caller
	err     error  // sticky: the first error ends the stream
}

func newBody(rc io.ReadCloser, want int64, ctx context.Context, cancel context.CancelCauseFunc, idle time.Duration, counter *atomic.Int64) *body {
	b := &body{rc: rc, ctx: ctx, cancel: cancel, idle: idle, want: want, counter: counter}
	if cancel != nil && idle > 0 {
		b.stall = &timeoutError{what: "body stalled: no data", after: idle}
		// Created here, stopped, rather than in Read, so that a Close racing
		// with a blocked Read never sees the field change.
		b.timer = time.AfterFunc(idle, func() { cancel(b.stall) })
		b.timer.Stop()
	}
	return b
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.timer != nil {
		// Cancelling the request context is what unblocks a Read stuck on
		// the socket; the cause tells us why it was cancelled.
		b.timer.Reset(b.idle)
	}
	n, err := b.rc.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if n > 0 {
		b.got += int64(n)
		b.counter.Add(int64(n))
	}
	switch {
	case b.want >= 0 && b.got > b.want:
		err = fmt.Errorf("body longer than its Content-Length %d", b.want)
	case err == io.EOF:
		if b.want >= 0 && b.got < b.want {
			err = fmt.Errorf("%w: got %d of %d bytes", ErrTruncated, b.got, b.want)
		}
	case err != nil:
		if b.stall != nil && errors.Is(context.Cause(b.ctx), b.stall) {
			err = fmt.Errorf("after %d bytes: %w", b.got, b.stall)
		} else if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: after %d bytes: %w", ErrTruncated, b.got, err)
		}
	}
	if err != nil {
		if err != io.EOF && b.label != "" {
			err = fmt.Errorf("%s: %w", b.label, err)
		}
		b.err = err
	}
	return n, err
}

// discard reads a little of an unwanted body (an error page) so that the
// connection can be reused, then closes it; a large one is not worth it.
func (b *body) discard() {
	io.CopyN(io.Discard, b, 64<<10)
	b.Close()
}

func (b *body) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.rc.Close()
	if b.cancel != nil {
		b.cancel(nil) // releases the request context; a no-op if already done
	}
	return err
}
