package delta

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"arbor/store"
	"arbor/store/object"
)

// aheadBudget is the bytes of changed files, their old versions and what
// diffing them takes, held at once by encodes run ahead of the part; a
// file that alone needs more is encoded alone.
const aheadBudget = 64 << 20

// pending is a changed file being encoded ahead of the part.
type pending struct {
	c, old   object.Checksum
	ready    chan struct{}
	cost     int64
	modified bool // its path had other content in From, and it is diffed
	gzPath   bool // its path ends in .gz: it may go to an alt part
	h        object.FileHeader
	data     []byte
	e        encoded
	gz       *gzRecipe // its alt part's rebuild, if it has one
	err      error
}

// ahead encodes the files that changed at their paths on every
// processor, in order and ahead of the part being built, which takes
// them as they are ready: a library's update is mostly the bsdiff of a
// few large files, which need not wait on each other.
type ahead struct {
	byC  map[object.Checksum]*pending
	wg   sync.WaitGroup
	mu   sync.Mutex
	cond *sync.Cond
	used int64
}

// encodeAhead starts the encodes of content's files that oldAt finds
// an old version for. Files left as fallbacks, symlinks and empty files
// come back as not modified, to be carried as any other.
func (g *generator) encodeAhead(ctx context.Context, content []object.Checksum, oldAt func(object.Checksum) (object.Checksum, bool), gzPath func(object.Checksum) bool) *ahead {
	a := &ahead{byC: map[object.Checksum]*pending{}}
	a.cond = sync.NewCond(&a.mu)
	var list []*pending
	for _, c := range content {
		if old, ok := oldAt(c); ok {
			p := &pending{c: c, old: old, ready: make(chan struct{}), gzPath: gzPath(c)}
			a.byC[c] = p
			list = append(list, p)
		}
	}
	if len(list) == 0 {
		return a
	}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for _, p := range list {
			ct, oct := g.open(ctx, p)
			if ct == nil {
				close(p.ready)
				continue
			}
			if !a.take(ctx, p.cost) {
				ct.Close()
				if oct != nil {
					oct.Close()
				}
				p.err = ctx.Err()
				close(p.ready)
				continue
			}
			sem <- struct{}{}
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				defer func() { <-sem }()
				g.encodePending(p, ct, oct)
				close(p.ready)
			}()
		}
	}()
	return a
}

// open opens p's file and its old version (nil if that cannot be read:
// the file goes whole), and says what encoding them will hold; ct is nil
// when the file is carried as any other (p.modified false) or p.err.
func (g *generator) open(ctx context.Context, p *pending) (ct, oct *store.Content) {
	if p.err = ctx.Err(); p.err != nil {
		return nil, nil
	}
	if g.o.MinFallbackSize > 0 {
		// Weighed by its header first: a fallback is never read.
		_, size, err := g.r.StatContent(p.c)
		if err != nil {
			p.err = err
			return nil, nil
		}
		if int64(size) > g.o.MinFallbackSize {
			return nil, nil
		}
	}
	ct, err := g.r.OpenContent(p.c)
	if err != nil {
		p.err = err
		return nil, nil
	}
	if ct.Header.IsSymlink() || ct.Size == 0 {
		ct.Close()
		return nil, nil
	}
	p.h = ct.Header
	p.modified = true
	n := int64(ct.Size)
	p.cost = 2 * n // the file, and a patch or literal bytes of about its size
	if oct, err = g.r.OpenContent(p.old); err != nil {
		return ct, nil
	}
	m := int64(oct.Size)
	p.cost += m + m/2 // the old version, and block matching's table
	if g.bsdiffs(m, n) {
		p.cost += 9 * m // its suffix array while it is sorted
	}
	if p.gzPath && g.gzips() {
		// Its texts, guessed at eight times the files, and patching them
		// (bsdiff, where block matches do not serve).
		p.cost += 10 * min(8*(m+n), g.maxGzipTexts())
	}
	return ct, oct
}

// encodePending reads p's file from ct and encodes it against its old
// version from oct, or leaves it whole where that cannot be read.
func (g *generator) encodePending(p *pending, ct, oct *store.Content) {
	p.data, p.err = readWhole(ct, ct.Size)
	ct.Close()
	var old []byte
	haveOld := false
	if oct != nil {
		var err error
		old, err = readWhole(oct, oct.Size)
		oct.Close()
		haveOld = err == nil
	}
	switch {
	case p.err != nil:
		p.err = fmt.Errorf("reading %s: %w", object.Name(p.c, object.TypeFile), p.err)
	case haveOld:
		p.e = g.encode(old, p.data)
		if p.gzPath && g.gzips() {
			p.gz = gzipRecipe(old, p.data, int(g.maxGzipTexts()))
		}
	}
}

// wait is c's encode once it is ready, nil if c is not one or the
// generation was cancelled. A file that came back not modified has no
// data: it is carried as any other.
func (a *ahead) wait(ctx context.Context, c object.Checksum) *pending {
	p := a.byC[c]
	if p == nil {
		return nil
	}
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil
	}
	if p.err == nil && !p.modified {
		return nil
	}
	return p
}

// done gives back what p held.
func (a *ahead) done(p *pending) {
	a.mu.Lock()
	a.used -= p.cost
	a.mu.Unlock()
	a.cond.Broadcast()
	p.data, p.e, p.gz = nil, encoded{}, nil
}

// take waits until n more bytes fit the budget, or nothing else is held.
func (a *ahead) take(ctx context.Context, n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.used > 0 && a.used+n > aheadBudget {
		if ctx.Err() != nil {
			return false
		}
		a.cond.Wait()
	}
	a.used += n
	return ctx.Err() == nil
}

// stop waits for the encodes once the generation's context is done or
// every file was taken. The lock orders the wake-up after a waiter's
// look at the context.
func (a *ahead) stop() {
	a.mu.Lock()
	a.cond.Broadcast()
	a.mu.Unlock()
	a.wg.Wait()
}
