package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/delta/xzproc"
	"arbor/store/gvariant"
	"arbor/store/index"
	"arbor/store/object"
)

// deltaSource is where a pull finds static deltas: the remote's summary
// and delta indexes, and the files under deltas/.
type deltaSource interface {
	// Deltas are the remote's deltas to a commit, by name, with the
	// sha256 of each superblock.
	Deltas(ctx context.Context, to object.Checksum) (map[string][32]byte, error)
	// Listed are the deltas the summary itself lists, fetched nothing
	// more, and whether the summary says delta indexes may list more.
	Listed(ctx context.Context) (map[string][32]byte, bool, error)
	Get(ctx context.Context, path string, max int64) ([]byte, error)
}

// deltaOpener is a delta source that can stream a file: one fetched
// before it is known to be wanted, whose bytes are read only then.
type deltaOpener interface {
	Open(ctx context.Context, path string) (io.ReadCloser, int64, error)
}

// maxSuperblock bounds a superblock's download; the part files' are
// their headers' sizes.
const maxSuperblock = 64 << 20

// sessionDeltas finds deltas through a session's summary.
type sessionDeltas struct{ s *Session }

func (d sessionDeltas) Get(ctx context.Context, path string, max int64) ([]byte, error) {
	return d.s.src.meta.Get(ctx, path, max)
}

func (d sessionDeltas) Open(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	return d.s.src.meta.Open(ctx, path)
}

func (d sessionDeltas) Deltas(ctx context.Context, to object.Checksum) (map[string][32]byte, error) {
	sum, err := d.s.fetchedSummary(ctx)
	if err != nil {
		return nil, err
	}
	return listedDeltas(ctx, sum.s, to, d.Get)
}

func (d sessionDeltas) Listed(ctx context.Context) (map[string][32]byte, bool, error) {
	sum, err := d.s.fetchedSummary(ctx)
	if err != nil {
		return nil, false, err
	}
	m, indexed := summaryDeltas(sum.s)
	return m, indexed, nil
}

// summaryDeltas are the deltas a summary lists (nil: there is no
// summary, so none are), and whether it says the repository keeps delta
// indexes, which may list more.
func summaryDeltas(sum *store.Summary) (map[string][32]byte, bool) {
	if sum == nil {
		return nil, false
	}
	out := map[string][32]byte{}
	addAll(out, sum.Metadata)
	v, ok := object.Lookup(sum.Metadata, "ostree.summary.indexed-deltas")
	return out, ok && v.Value == true
}

// listedDeltas are the deltas to a commit a summary lists (nil: there is
// none, so none are), with those of the commit's delta index when the
// summary says the repository keeps indexes.
func listedDeltas(ctx context.Context, sum *store.Summary, to object.Checksum, get func(ctx context.Context, path string, max int64) ([]byte, error)) (map[string][32]byte, error) {
	out, indexed := summaryDeltas(sum)
	if out == nil {
		return nil, nil
	}
	if indexed {
		// An index per target, bound to nothing but the superblocks it
		// names: each superblock is checked against it, and the commit
		// in it against its signature.
		b, err := get(ctx, delta.IndexPath(to), 16<<20)
		if errors.Is(err, ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		md, err := object.ParseVarDict(b)
		if err != nil {
			return nil, fmt.Errorf("the delta index of %s: %w", to, err)
		}
		addAll(out, md)
	}
	return out, nil
}

// addAll reads ostree.static-deltas (name -> superblock sha256).
func addAll(out map[string][32]byte, md []object.MetaEntry) {
	v, ok := object.Lookup(md, "ostree.static-deltas")
	if !ok {
		return
	}
	items, _ := v.Value.([]any)
	for _, it := range items {
		kv, _ := it.([]any)
		if len(kv) != 2 {
			continue
		}
		name, _ := kv[0].(string)
		inner, _ := kv[1].(gvariant.Variant)
		sum, _ := inner.Value.([]byte)
		if len(sum) == 32 {
			var c [32]byte
			copy(c[:], sum)
			out[name] = c
		}
	}
}

// errNoDelta says the remote has no delta to use for a commit.
var errNoDelta = errors.New("no static delta")

// delta pulls the target commit c of ref through a static delta: from
// the ref's commit here when the remote has that delta, else from
// scratch when c is new here. Its commit is checked as any pulled commit
// is before it is stored; its parts are fetched only where an object of
// theirs is missing. What it leaves out (its fallback objects) the tree
// walk that follows fetches.
func (p *puller) delta(du *deltaUse, ref string, c object.Checksum) error {
	ds := du.src
	if has, _ := p.txn.Has(index.Ref{Checksum: c, Type: object.TypeCommit}); has && !p.repo.IsPartial(c) {
		return nil // complete already
	}
	ahead := p.ahead
	if ahead != nil && (ahead.ref != ref || ahead.to != c) {
		ahead = nil
	}
	var all map[string][32]byte
	var err error
	partial := false
	if ahead != nil {
		if err := ahead.wait(p.ctx); err != nil {
			return err
		}
		all, err, partial = ahead.all, ahead.allErr, ahead.partial
	} else {
		all, err = ds.Deltas(p.ctx, c)
	}
	if err != nil {
		return err
	}
	from, name := p.chooseDelta(du, all, ref, c)
	if partial && name != ahead.name {
		// The summary's list named the delta fetched ahead, and the
		// delta index was left unfetched; this pull takes another delta,
		// perhaps one only the index names.
		if all, err = ds.Deltas(p.ctx, c); err != nil {
			return err
		}
		from, name = p.chooseDelta(du, all, ref, c)
	}
	if name == "" {
		return fmt.Errorf("%w to %s", errNoDelta, c)
	}
	if ahead != nil && (ahead.name != name || p.opts.DryRun) {
		ahead = nil
	}
	var file []byte
	if ahead != nil && ahead.file != nil {
		file = ahead.file // checked below as one fetched now
	} else if file, err = ds.Get(p.ctx, delta.Dir(from, c)+"/superblock", maxSuperblock); err != nil {
		return fmt.Errorf("delta %s: %w", name, err)
	}
	if delta.Checksum(file) != all[name] {
		return fmt.Errorf("delta %s: %w: the superblock is not the one the remote lists", name, delta.ErrCorrupt)
	}
	sb, err := delta.ParseSuperblock(file)
	if err != nil {
		return fmt.Errorf("delta %s: %w", name, err)
	}
	if sb.Signed {
		return fmt.Errorf("delta %s: a signed superblock, which pulls do not take (as ostree's do not)", name)
	}
	if sb.From != from || sb.To != c {
		return fmt.Errorf("delta %s: %w: its superblock is of %s", name, delta.ErrCorrupt, delta.Name(sb.From, sb.To))
	}
	if p.opts.DryRun {
		need, err := delta.PartsNeeded(p.txn, sb)
		if err != nil {
			return err
		}
		for _, i := range need {
			p.plan.Parts++
			size := sb.Parts[i].Size
			if alt, ok := sb.Alt(i); ok {
				size = alt.Size
			}
			p.plan.Bytes += int64(size)
			p.plan.Uncompressed += int64(sb.Parts[i].Uncompressed)
		}
		return nil
	}
	if err := p.deltaCommit(ref, sb); err != nil {
		return err
	}
	need, err := delta.PartsNeeded(p.txn, sb)
	if err != nil {
		return err
	}
	sink := &reachSink{TxnSink: delta.TxnSink{Txn: p.txn}, wanted: map[index.Ref]bool{}, inDelta: map[index.Ref]bool{},
		trees: map[object.Checksum]object.DirTree{}, w: newWriteBehind(), wrote: map[index.Ref]bool{}}
	defer sink.w.close()
	// Written behind the program, each object goes to the disk as it is
	// written: the sync before the renames finds little left to write.
	p.txn.StartWriteback()
	// The walk after the delta reads the dirtrees it stored from here,
	// decoded once.
	p.deltaTrees = sink.trees
	for _, ph := range sb.Parts {
		for _, o := range ph.Objects {
			sink.inDelta[index.Ref{Checksum: o.Checksum, Type: o.Type}] = true
		}
	}
	cm, _ := object.ParseCommit(sb.Commit)
	sink.want(index.Ref{Checksum: cm.RootTree, Type: object.TypeDirTree}, index.Ref{Checksum: cm.RootMeta, Type: object.TypeDirMeta})
	// While the first part arrives and is decoded, the staging
	// directories of what the parts write are made, and what of it is
	// here already is looked up in the index.
	prepared := make(chan struct{})
	present := map[index.Ref]bool{}
	go func() {
		defer close(prepared)
		var refs []index.Ref
		for _, i := range need {
			for _, o := range sb.Parts[i].Objects {
				refs = append(refs, index.Ref{Checksum: o.Checksum, Type: o.Type})
			}
		}
		p.txn.Prepare(refs)
		for _, r := range refs {
			if has, err := p.txn.Has(r); err == nil && has {
				present[r] = true
			}
		}
	}()
	defer func() { <-prepared }()
	// The parts fetched and decoded ahead, all of them, are those of
	// this superblock's bytes; else they are started now, those needed.
	var pipe *partPipe
	if ahead != nil && ahead.pipe != nil {
		pipe = ahead.pipe
	} else {
		pipe = startParts(p.ctx, ds, sb, name, need, nil, du.unxz, delta.StoredSource(p.repo))
	}
	defer pipe.close()
	needed := map[int]bool{}
	for _, i := range need {
		needed[i] = true
	}
	for k := range pipe.parts {
		f, err := pipe.next(p.ctx)
		if err != nil {
			return err
		}
		if !needed[f.i] {
			pipe.done() // fetched ahead, and everything of it is here
			continue
		}
		if f.err != nil && !f.alt {
			return f.err
		}
		if k == 0 || sink.present == nil {
			select {
			case <-prepared:
				sink.present = present
			case <-p.ctx.Done():
				return p.ctx.Err()
			}
		}
		err = f.err
		if err == nil {
			err = p.runPart(sb, f.i, f.part, sink, name)
		}
		if f.alt && err != nil && p.ctx.Err() == nil {
			// What the alt part stored it checked; the part makes the
			// rest.
			var part *delta.Part
			b, _, ferr := fetchPart(p.ctx, ds, sb, f.i, nil, "")
			if ferr == nil {
				part, ferr = delta.DecodePart(sb, f.i, b, false, nil)
			}
			if err = ferr; err == nil {
				err = p.runPart(sb, f.i, part, sink, name)
			}
			if err != nil {
				err = fmt.Errorf("delta %s part %d: %w", name, f.i, err)
			}
		}
		pipe.done()
		if err != nil {
			return err
		}
		p.fetched.Add(int64(sink.stored))
		p.nParts.Add(1)
		sink.stored = 0
	}
	return nil
}

// runPart runs a decoded part into sink, its objects written behind.
func (p *puller) runPart(sb *delta.Superblock, i int, part *delta.Part, sink *reachSink, name string) error {
	sink.pending = map[index.Ref]pendingObject{}
	err := delta.RunPart(sb, i, part, sink)
	if werr := sink.w.wait(); err == nil && werr != nil {
		err = fmt.Errorf("delta %s part %d: %w", name, i, werr)
	}
	return err
}

// chooseDelta picks, of the deltas to c listed in all, the one a pull of
// ref takes: from the ref's commit here when there is one, else from the
// newest complete commit here, else from scratch; name is empty when
// none will do.
func (p *puller) chooseDelta(du *deltaUse, all map[string][32]byte, ref string, c object.Checksum) (from object.Checksum, name string) {
	if du.from != nil {
		from = du.from(ref)
	}
	// A partial commit (a lazy mount's) is a start too: what the delta
	// makes from objects not here is left to the walk.
	if has, _ := p.txn.Has(index.Ref{Checksum: from, Type: object.TypeCommit}); !from.IsZero() && has {
		if _, ok := all[delta.Name(from, c)]; ok {
			return from, delta.Name(from, c)
		}
	}
	// Another commit here may start a delta to c (a commit pulled by
	// its checksum has no ref to start from): the newest complete one.
	var best uint64
	for n := range all {
		f, t, err := delta.ParseName(n)
		if err != nil || t != c || f.IsZero() || p.repo.IsPartial(f) {
			continue
		}
		if has, _ := p.txn.Has(index.Ref{Checksum: f, Type: object.TypeCommit}); !has {
			continue
		}
		if cm, err := p.repo.ReadCommit(f); err == nil && (name == "" || cm.Timestamp > best) {
			from, name, best = f, n, cm.Timestamp
		}
	}
	if name != "" {
		return from, name
	}
	if _, ok := all[delta.Name(object.Zero, c)]; ok {
		return object.Zero, delta.Name(object.Zero, c)
	}
	return object.Zero, ""
}

// partPipe fetches a delta's parts side by side and decodes them in
// order, for them to be run in order: the objects of one may come from
// another's dirtrees. At most four are fetched or held at a time, started
// in order, so that what waits in memory is bounded by the largest parts.
// One goroutine decodes them, the next while one runs (xz takes as long
// as the rest of a pull): at most two are held decoded.
type partPipe struct {
	parts   []int // in the order they come
	decoded chan partFile
	slots   chan struct{}
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// first, when set, is part 0's file already being fetched (a
// speculative fetch, made before the superblock was verified): the pipe
// reads it as the part, within the size the superblock gives, or closes
// it when part 0 is not fetched.
//
// An alt part's files rebuilt from their texts are made as soon as it is
// decoded, from the stored objects load reads, beside the parts before
// it (delta.Part.Prebuild).
func startParts(ctx context.Context, ds deltaSource, sb *delta.Superblock, name string, parts []int, first *specPart, unxz string, load func(object.Checksum) ([]byte, error)) *partPipe {
	pp := &partPipe{parts: parts, decoded: make(chan partFile), slots: make(chan struct{}, 4), stop: make(chan struct{})}
	files := make([]chan partFile, len(parts))
	for k := range files {
		files[k] = make(chan partFile, 1)
	}
	pp.wg.Add(2)
	go func() {
		defer pp.wg.Done()
		defer func() { first.close() }() // unless handed to part 0's fetch below
		for k, i := range parts {
			select {
			case pp.slots <- struct{}{}:
			case <-pp.stop:
				return
			}
			var spec *specPart
			if i == 0 {
				spec, first = first, nil
			}
			pp.wg.Add(1)
			go func() {
				defer pp.wg.Done()
				if b, inline := sb.InlinePart(i); inline {
					spec.close()
					files[k] <- partFile{i: i, b: b, inline: true}
					return
				}
				if alt, ok := sb.Alt(i); ok {
					// arbor's smaller form of the part; the part itself
					// only if it fails.
					spec.close()
					b, err := ds.Get(ctx, delta.AltPath(sb.From, sb.To, i), int64(alt.Size))
					files[k] <- partFile{i: i, b: b, alt: true, err: err}
					return
				}
				b, decoded, err := fetchPart(ctx, ds, sb, i, spec, unxz)
				if err != nil {
					err = fmt.Errorf("delta %s part %d: %w", name, i, err)
				}
				files[k] <- partFile{i: i, b: b, decoded: decoded, err: err}
			}()
		}
	}()
	go func() {
		defer pp.wg.Done()
		for k, i := range parts {
			var f partFile
			select {
			case f = <-files[k]:
			case <-pp.stop:
				return
			}
			switch {
			case f.alt:
				// Any failure of an alt part is taken up by fetching the
				// part, when it is run.
				if f.err == nil {
					if f.part, f.err = delta.DecodeAlt(sb, i, f.b); f.err == nil {
						f.part.Prebuild(ctx, sb.Parts[i], load)
					}
				}
				f.b = nil
			case f.err == nil:
				f.part, f.err = delta.DecodePart(sb, i, f.b, f.inline, f.decoded)
				f.b, f.decoded = nil, nil
			}
			select {
			case pp.decoded <- f:
			case <-pp.stop:
				return
			}
		}
	}()
	return pp
}

// specPart is a part's file asked for before its superblock was
// verified, so that it comes in the same round trip as the superblock.
// Nothing of it is read off the connection until the verified superblock
// gives its size (and then its checksum is checked before it is
// decoded, as any part's is); unwanted, it is closed unread.
//
// With a helper, the part's xz stream is also decoded as it is read, by
// a process locked down to do that alone (xzproc): what it makes is
// taken only once the part's checksum matches, so decoding, the longest
// step after a part arrives, overlaps its download.
type specPart struct {
	ready chan struct{}
	body  io.ReadCloser
	size  int64 // -1: not given
	err   error
	dec   *xzproc.Decoder // nil: none was started
}

func openSpecPart(ctx context.Context, o deltaOpener, path, unxz string) *specPart {
	sp := &specPart{ready: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		defer close(started)
		if unxz != "" {
			sp.dec, _ = xzproc.Start(ctx, unxz) // without it, the part is decoded once in
		}
	}()
	go func() {
		defer close(sp.ready)
		sp.body, sp.size, sp.err = o.Open(ctx, path)
		<-started
	}()
	return sp
}

// read is the part's file, of the size its verified superblock gives in
// h, with what the helper decoded of it (nil for nothing); again says it
// is to be fetched as if none had been asked for (there is none, or its
// fetch failed on the way).
func (sp *specPart) read(h delta.PartHeader) (b, decoded []byte, again bool, err error) {
	if sp == nil {
		return nil, nil, true, nil
	}
	<-sp.ready
	dec := sp.dec
	sp.dec = nil
	defer func() { dec.Stop() }() // whatever of it is still running
	if errors.Is(sp.err, ErrNotFound) {
		return nil, nil, false, sp.err // asked again, it would be again
	}
	if sp.err != nil {
		return nil, nil, true, nil
	}
	defer sp.body.Close()
	size := int64(h.Size)
	if sp.size >= 0 && sp.size != size {
		return nil, nil, false, fmt.Errorf("%w: the part is %d bytes, not the %d its superblock says", delta.ErrCorrupt, sp.size, size)
	}
	if dec != nil && (size < 2 || dec.Begin(delta.PayloadBound(h)) != nil) {
		dec.Stop()
		dec = nil
	}
	b = make([]byte, size)
	for n := int64(0); n < size; {
		k, err := sp.body.Read(b[n:min(size, n+256<<10)])
		if dec != nil && k > 0 {
			from := n
			if from == 0 {
				if b[0] != 'x' {
					dec.Stop() // not xz
					dec = nil
				}
				from = 1
			}
			if dec != nil && from < n+int64(k) {
				if _, werr := dec.Write(b[from : n+int64(k)]); werr != nil {
					dec.Stop()
					dec = nil
				}
			}
		}
		n += int64(k)
		if n < size && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil, false, fmt.Errorf("%w: the part is shorter than the %d bytes its superblock says", delta.ErrCorrupt, size)
			}
			return nil, nil, true, nil
		}
	}
	if sp.size < 0 {
		if n, _ := sp.body.Read(make([]byte, 1)); n > 0 {
			return nil, nil, false, fmt.Errorf("%w: the part is longer than the %d bytes its superblock says", delta.ErrCorrupt, size)
		}
	}
	if dec != nil {
		decoded, _ = dec.Finish() // on any failure, decoded here once checked
		dec = nil
	}
	return b, decoded, false, nil
}

// close gives the part up unread; nil does nothing.
func (sp *specPart) close() {
	if sp == nil {
		return
	}
	go func() {
		<-sp.ready
		if sp.body != nil {
			sp.body.Close()
		}
		sp.dec.Stop()
	}()
}

// next is the next part, decoded (or its error); done follows once it
// has run, which lets another be fetched.
func (pp *partPipe) next(ctx context.Context) (partFile, error) {
	select {
	case f := <-pp.decoded:
		return f, nil
	case <-ctx.Done():
		return partFile{}, ctx.Err()
	}
}

func (pp *partPipe) done() { <-pp.slots }

// close stops the fetches and decoding, and waits for them.
func (pp *partPipe) close() {
	pp.once.Do(func() { close(pp.stop) })
	pp.wg.Wait()
}

// deltaAhead is the delta a pull most likely uses, from the commit the
// ref has here to the remote's, listed, fetched and decoded while the
// pull's transaction begins (opening the index takes as long as fetching
// the part): the remote's list of deltas, the superblock and the parts,
// all of them, and the commit's detached metadata. delta takes them when
// it chooses the same delta, and checks them as it checks what it fetches
// itself; a part whose objects turn out to be here already was fetched
// for nothing.
//
// What does not depend on another answer goes out at once, side by side:
// the superblock with the commit's detached metadata; with them the first
// part when the summary names the delta (its checksum is then known, and
// the part is read only once the superblock matches it), else the delta
// index that may name it. Only the other parts wait for the superblock.
type deltaAhead struct {
	ref, name string
	to        object.Checksum
	ready     chan struct{}
	all       map[string][32]byte
	allErr    error
	// partial: all is the summary's own list, which names this delta;
	// the delta index, which may name others, was not fetched.
	partial bool
	file    []byte    // the superblock, when the remote lists it
	pipe    *partPipe // its parts, when it parsed as the delta named
	// detached is the commit's detached metadata as the source gave it
	// (nil and ErrNotFound: it has none), once detachedDone is closed.
	detached     []byte
	detachedErr  error
	detachedDone chan struct{}
}

// startDeltaAhead starts fetching the delta from the ref's commit here to
// c, when that commit is complete here (by its files: the index is not
// open yet) and c is not; nil when there is nothing to start. src is the
// pull's source, which gives the commit's detached metadata.
func startDeltaAhead(ctx context.Context, r *store.Repo, ds *deltaUse, src Source, ref string, c object.Checksum) *deltaAhead {
	from := ds.from(ref)
	if from.IsZero() || from == c || r.IsPartial(from) {
		return nil
	}
	if _, err := os.Stat(r.ObjectPath(from, object.TypeCommit)); err != nil {
		return nil
	}
	if _, err := os.Stat(r.ObjectPath(c, object.TypeCommit)); err == nil && !r.IsPartial(c) {
		return nil
	}
	a := &deltaAhead{ref: ref, name: delta.Name(from, c), to: c, ready: make(chan struct{}), detachedDone: make(chan struct{})}
	go func() {
		// Wanted whatever the delta: the delta's commit is checked with
		// it, and so is a commit fetched without the delta.
		defer close(a.detachedDone)
		a.detached, a.detachedErr = src.Meta(ctx, index.Ref{Checksum: c, Type: object.TypeCommitMeta})
	}()
	go func() {
		defer close(a.ready)
		listed, indexed, err := ds.src.Listed(ctx)
		if err != nil {
			a.allErr = err
			return
		}
		_, named := listed[a.name]
		if !named && !indexed {
			a.all = listed // no delta from here to c
			return
		}
		dir := delta.Dir(from, c)
		var first *specPart
		if o, ok := ds.src.(deltaOpener); ok && named {
			first = openSpecPart(ctx, o, dir+"/0", ds.unxz)
		}
		type got struct {
			file []byte
			err  error
		}
		sbc := make(chan got, 1)
		go func() {
			file, err := ds.src.Get(ctx, dir+"/superblock", maxSuperblock)
			sbc <- got{file, err}
		}()
		if named {
			a.all, a.partial = listed, indexed
		} else {
			a.all, a.allErr = ds.src.Deltas(ctx, c)
		}
		sbr := <-sbc
		want, ok := a.all[a.name]
		if a.allErr != nil || !ok || sbr.err != nil || delta.Checksum(sbr.file) != want {
			first.close()
			return // delta fetches it again, and says what is wrong
		}
		a.file = sbr.file
		sb, err := delta.ParseSuperblock(sbr.file)
		if err != nil || sb.Signed || sb.From != from || sb.To != c {
			first.close()
			return
		}
		parts := make([]int, len(sb.Parts))
		for i := range parts {
			parts[i] = i
		}
		a.pipe = startParts(ctx, ds.src, sb, a.name, parts, first, ds.unxz, delta.StoredSource(r))
	}()
	return a
}

// wait is when the list, and the superblock where there is one, are in.
func (a *deltaAhead) wait(ctx context.Context) error {
	select {
	case <-a.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops what is still being fetched; nil does nothing.
func (a *deltaAhead) close() {
	if a == nil {
		return
	}
	<-a.ready
	if a.pipe != nil {
		a.pipe.close()
	}
}

type partFile struct {
	i int // the part
	b []byte
	// decoded is what the helper decoded of b as it came, unchecked
	// until DecodePart has checked b; nil for none.
	decoded []byte
	inline  bool
	alt     bool // the part's alt part (delta.AltPart)
	part    *delta.Part
	err     error
}

// fetchPart fetches part i's file, through spec when it was asked for
// already or a helper decodes it as it comes; decoded is the helper's.
func fetchPart(ctx context.Context, ds deltaSource, sb *delta.Superblock, i int, spec *specPart, unxz string) (b, decoded []byte, err error) {
	path := fmt.Sprintf("%s/%d", delta.Dir(sb.From, sb.To), i)
	if o, ok := ds.(deltaOpener); ok && spec == nil && unxz != "" {
		spec = openSpecPart(ctx, o, path, unxz) // to decode it as it comes
	}
	b, decoded, again, err := spec.read(sb.Parts[i])
	if again {
		b, err = ds.Get(ctx, path, int64(sb.Parts[i].Size))
	}
	return b, decoded, err
}

// deltaCommit verifies and stores the delta's commit as commitObject
// does a fetched one: its signatures (from the detached metadata the
// superblock carries, else the remote's) and its binding to ref, before
// anything of it is written.
func (p *puller) deltaCommit(ref string, sb *delta.Superblock) error {
	c := sb.To
	cref := index.Ref{Checksum: c, Type: object.TypeCommit}
	if err := store.ValidateMeta(cref, sb.Commit); err != nil {
		return err
	}
	detached, ok := sb.CommitMeta()
	if !ok {
		var err error
		detached, err = p.sourceDetached(c)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := p.verifyCommit(c, sb.Commit, detached); err != nil {
		return err
	}
	cm, _ := object.ParseCommit(sb.Commit)
	if err := p.checkBinding(cm, c, ref); err != nil {
		return err
	}
	if err := delta.WriteCommit(p.repo, p.txn, sb, detached); err != nil {
		return err
	}
	p.fetched.Add(1)
	return nil
}

// reachSink stores only what the verified commit reaches: the root's
// dirtree and dirmeta, then what each stored dirtree names. An object a
// part makes before the dirtree that names it waits in memory for the
// rest of the part; one no stored dirtree names is dropped, whatever its
// checksum. The tree walk fetches anything dropped that was needed.
type reachSink struct {
	delta.TxnSink
	// inDelta is what the delta's parts write: only those can be wanted
	// of the sink, so a dirtree's other entries (thousands, in a large
	// directory) are not recorded.
	inDelta map[index.Ref]bool
	wanted  map[index.Ref]bool
	pending map[index.Ref]pendingObject
	stored  int
	// trees are the wanted dirtrees, decoded: those stored and those
	// the delta would have written again.
	trees map[object.Checksum]object.DirTree
	// w writes the objects, behind the program that makes them.
	w *writeBehind
	// present is what of the parts was here before the delta (the
	// index looked up while the first part was decoded), wrote what the
	// sink has stored since: together, what the transaction has of the
	// parts' objects, with no lookup while a part runs.
	present, wrote map[index.Ref]bool
}

// writeBehind writes a part's objects into the transaction on goroutines
// of their own while the part's program goes on making the next ones:
// the files' creation, writing and naming is half of what running a part
// costs, and it runs beside the program's hashing and patching. The
// transaction checks each object against its name as it writes it, as
// always. Objects are handed over whole (their bytes are the part's or
// their own), and wait ends the writing of a part.
type writeBehind struct {
	jobs chan func() error
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

// writers is how many goroutines write: with the program, one a core of
// a small machine (three were slower than two on two cores: the program,
// not the writing, is what a part waits for).
const writers = 2

func newWriteBehind() *writeBehind {
	w := &writeBehind{jobs: make(chan func() error, 64)}
	for i := 0; i < writers; i++ {
		go func() {
			for job := range w.jobs {
				if err := job(); err != nil {
					w.mu.Lock()
					if w.err == nil {
						w.err = err
					}
					w.mu.Unlock()
				}
				w.wg.Done()
			}
		}()
	}
	return w
}

// do queues a write; its error, or an earlier one, is wait's. It returns
// an earlier write's error at once, which stops the part.
func (w *writeBehind) do(job func() error) error {
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if err != nil {
		return err
	}
	w.wg.Add(1)
	w.jobs <- job
	return nil
}

// wait is when every queued write has ended, with the first error.
func (w *writeBehind) wait() error {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// close ends the writers, after wait.
func (w *writeBehind) close() {
	w.wg.Wait()
	close(w.jobs)
}

type pendingObject struct {
	h    *object.FileHeader
	data []byte
}

// Has also opens a stored dirtree the delta's program would write
// again: what it names is wanted as if it were written now.
func (s *reachSink) Has(o delta.ObjectRef) (bool, error) {
	r := index.Ref{Checksum: o.Checksum, Type: o.Type}
	var has bool
	var err error
	if s.present[r] || s.wrote[r] {
		has = true
	} else if s.present == nil {
		has, err = s.Txn.Has(r)
	}
	if err != nil || !has || r.Type != object.TypeDirTree || !s.wanted[r] {
		return has, err
	}
	b, err := s.Txn.ReadMeta(r)
	if errors.Is(err, store.ErrObjectMissing) {
		// Perhaps one of this delta's, still being written.
		if werr := s.w.wait(); werr != nil {
			return true, werr
		}
		b, err = s.Txn.ReadMeta(r)
	}
	if err != nil {
		return true, err
	}
	dt, err := object.ParseDirTree(b)
	if err != nil {
		return true, fmt.Errorf("%s: %w", object.Name(r.Checksum, r.Type), err)
	}
	s.trees[r.Checksum] = dt
	return true, s.expand(dt)
}

// SourceData leaves out what is made from an object not stored: the ref's
// commit here may be a lazy mount's, partly fetched.
func (s *reachSink) SourceData(c object.Checksum) ([]byte, error) {
	b, err := s.TxnSink.SourceData(c)
	if errors.Is(err, store.ErrObjectMissing) {
		// Perhaps an object of this delta still being written.
		if werr := s.w.wait(); werr != nil {
			return nil, werr
		}
		b, err = s.TxnSink.SourceData(c)
	}
	if errors.Is(err, store.ErrObjectMissing) {
		return nil, fmt.Errorf("%w: %w", delta.ErrSourceMissing, err)
	}
	return b, err
}

func (s *reachSink) want(refs ...index.Ref) {
	for _, r := range refs {
		s.wanted[r] = true
	}
}

func (s *reachSink) Meta(o delta.ObjectRef, data []byte) error {
	return s.put(index.Ref{Checksum: o.Checksum, Type: o.Type}, pendingObject{data: data})
}

func (s *reachSink) Content(c object.Checksum, h *object.FileHeader, data []byte) error {
	return s.put(index.Ref{Checksum: c, Type: object.TypeFile}, pendingObject{h: h, data: data})
}

// put stores r when it is wanted, and then what waited for it.
func (s *reachSink) put(r index.Ref, o pendingObject) error {
	if !s.wanted[r] {
		s.pending[r] = o
		return nil
	}
	txn := s.Txn
	var err error
	if r.Type == object.TypeFile {
		err = s.w.do(func() error { return txn.AddContent(r.Checksum, o.h, uint64(len(o.data)), bytes.NewReader(o.data)) })
	} else {
		err = s.w.do(func() error { return txn.AddMeta(r, o.data) })
	}
	if err != nil {
		return err
	}
	s.stored++
	s.wrote[r] = true
	if r.Type != object.TypeDirTree {
		return nil
	}
	// What it names is wanted now (its bytes are the checksum's: the
	// part's program checked them, and the writer checks them again).
	dt, err := object.ParseDirTree(o.data)
	if err != nil {
		return fmt.Errorf("%s: %w", object.Name(r.Checksum, r.Type), err)
	}
	s.trees[r.Checksum] = dt
	return s.expand(dt)
}

// expand wants what a stored dirtree names, and stores what of it waited.
func (s *reachSink) expand(dt object.DirTree) error {
	var next []index.Ref
	add := func(r index.Ref) {
		if s.inDelta[r] {
			next = append(next, r)
		}
	}
	for _, f := range dt.Files {
		add(index.Ref{Checksum: f.Checksum, Type: object.TypeFile})
	}
	for _, d := range dt.Dirs {
		add(index.Ref{Checksum: d.Tree, Type: object.TypeDirTree})
		add(index.Ref{Checksum: d.Meta, Type: object.TypeDirMeta})
	}
	s.want(next...)
	for _, n := range next {
		if w, ok := s.pending[n]; ok {
			delete(s.pending, n)
			if err := s.put(n, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// deltaUse is how a pull uses deltas: where they are, where each ref's
// commit here is, and who hears that a delta was not used.
type deltaUse struct {
	src  deltaSource
	from func(ref string) object.Checksum
	warn func(string)
	// unxz is the helper that decodes a part as it downloads
	// (xzproc), or "" to decode each once it is in.
	unxz string
}
