package httpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lean fetches plain GETs over HTTP/1.1 keep-alive connections without
// net/http's machinery: a pull makes tens of thousands of small requests,
// and the standard client's per-request goroutine hand-offs, header maps
// and trace hooks cost more CPU than the transfers (about 2.5 s against
// 1.1 s for a pull of /usr/share's 46,000 objects). Only the common case is
// handled here: a 200 or an error status, with a Content-Length or a
// chunked body. Anything else (redirects, HTTP/1.0, a body of unknown
// length, malformed headers) is answered errLeanSkip and the request goes
// through net/http, so behaviour never depends on this path.
//
// Once every connection it may open to a server is busy, a request is
// pipelined: sent on the connection with the fewest waiting, up to depth,
// and answered in its turn, as apt asks its mirrors. Over a wide area link
// a pull of small objects otherwise waits a round trip for each, on each
// connection. A request a connection's end left unanswered is sent again
// on another (a GET is safe to repeat), and a server whose connections
// break under pipelines is asked one request at a time from then on.
type lean struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	ua    string
	conns int // the connections it may have open to a server
	depth int // the requests it may have sent on one and not had answered
	mu    sync.Mutex
	// freed is signalled when a connection takes a request less (one
	// waiting request woken), is written to first, breaks or closes
	// (all): a request waiting for room looks again.
	freed *sync.Cond
	open  map[string][]*leanConn // by host:port: open, or opening
	// skip holds the servers whose answers need net/http (HTTP/1.0, no
	// length, redirects): asked once here, they are not asked every
	// request twice.
	skip map[string]bool
	// breaks counts, by server, connections it ended before answering a
	// request pipelined on them, not having said it would; at maxBreaks,
	// that server is asked one at a time.
	breaks map[string]int
}

// maxBreaks is how many broken pipelines end pipelining to a server: an
// idle timeout or a restart may break one now and then.
const maxBreaks = 4

// pipelineDepth is the requests a connection carries at once when every
// connection is busy: a pull's 64 workers on 16 connections.
const pipelineDepth = 4

// errLeanSkip sends a request to net/http instead.
var errLeanSkip = errors.New("not for the lean path")

// errUnanswered is a request sent on a connection that ended before its
// turn: it is sent again on another.
var errUnanswered = errors.New("the connection ended before the request's answer")

type leanConn struct {
	addr    string
	ready   chan struct{} // closed once dialled: c, br and bw set, or dialErr
	c       net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	dialErr error
	// Guarded by lean.mu:
	queue  []*leanReq // sent and not answered whole, the first being read
	broken bool       // takes no more requests; closed once its queue ends
	used   bool       // has carried an answer: the server may close it meanwhile
	primed bool       // open and written to: requests may follow at once
}

// leanReq is a request's place in a connection's queue.
type leanReq struct {
	turn       chan struct{} // closed when its answer is the next to read
	unanswered bool          // set before turn: the connection ended first
	left       bool          // its sender stopped waiting; the answer is unread
	piped      bool          // sent while another was unanswered on it
}

func newLean(connect time.Duration, conns int, ua string) *lean {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	l := &lean{dial: d.DialContext, ua: ua, conns: conns, depth: pipelineDepth, open: map[string][]*leanConn{},
		skip: map[string]bool{}, breaks: map[string]int{}}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// warm opens connections to addr in the background until n are open or
// opening (never more than the client may have), so that requests sent
// together later each find one ready instead of waiting a round trip for
// its handshake.
func (l *lean) warm(addr string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.skip[addr] {
		return
	}
	for len(l.open[addr]) < min(n, l.conns) {
		l.startDial(addr)
	}
}

// startDial adds a connection to addr, opening in the background; a
// request may take it at once and wait for it. Called with mu held.
func (l *lean) startDial(addr string) *leanConn {
	lc := &leanConn{addr: addr, ready: make(chan struct{})}
	l.open[addr] = append(l.open[addr], lc)
	go func() {
		// The dialer's timeout bounds it: a request that stops waiting
		// leaves it to the next.
		c, err := l.dial(context.Background(), "tcp", addr)
		if err == nil {
			lc.c, lc.br, lc.bw = c, bufio.NewReaderSize(c, 32<<10), bufio.NewWriterSize(c, 1<<10)
		}
		lc.dialErr = err
		close(lc.ready)
		l.mu.Lock()
		defer l.mu.Unlock()
		if err != nil || lc.broken && len(lc.queue) == 0 {
			l.drop(lc)
		}
	}()
	return lc
}

// drop takes lc out of the pool and closes it, once dialled. Called with
// mu held.
func (l *lean) drop(lc *leanConn) {
	lc.broken = true
	cs := l.open[lc.addr]
	for i := range cs {
		if cs[i] == lc {
			l.open[lc.addr] = append(cs[:i:i], cs[i+1:]...)
			break
		}
	}
	select {
	case <-lc.ready:
		if lc.c != nil {
			lc.c.Close()
		}
	default: // closed when its dial lands
	}
	l.freed.Broadcast()
}

// pick is the connection a request to addr goes on: one with nothing
// waiting, else a new one while fewer than conns are open, else (unless
// addr is asked one at a time) the one with the fewest waiting, below
// depth; nil when all are full. Called with mu held.
func (l *lean) pick(addr string) *leanConn {
	var best *leanConn
	for _, lc := range l.open[addr] {
		if lc.broken {
			continue
		}
		if len(lc.queue) == 0 {
			return lc
		}
		if lc.primed && (best == nil || len(lc.queue) < len(best.queue)) {
			best = lc
		}
	}
	if len(l.open[addr]) < l.conns {
		return l.startDial(addr)
	}
	if best != nil && len(best.queue) < l.depth && l.breaks[addr] < maxBreaks {
		return best
	}
	return nil
}

// leanResponse is what the lean path read of a response.
type leanResponse struct {
	code       int
	status     string
	size       int64
	retryAfter string
	etag       string
	modified   string
	chunked    bool
	body       io.ReadCloser
}

// get sends GET uri to host (host:port) and reads the response headers,
// waiting at most headerTO for them once its turn on a connection comes.
func (l *lean) get(ctx context.Context, addr, host, uri, header string, headerTO time.Duration) (*leanResponse, error) {
	var req bytes.Buffer
	req.WriteString("GET ")
	req.WriteString(uri)
	req.WriteString(" HTTP/1.1\r\nHost: ")
	req.WriteString(host)
	if l.ua != "" {
		req.WriteString("\r\nUser-Agent: ")
		req.WriteString(l.ua)
	}
	req.WriteString(header)
	req.WriteString("\r\n\r\n")
	// An answer never begun is asked again, on another connection, as
	// often as a connection ends before it (bounded): one that had
	// answered before may have been closed by the server meanwhile, and
	// one pipelined may end under the requests behind the one answered.
	// A server that took the request and said nothing until the header
	// timeout is not asked twice.
	for resent := 0; ; resent++ {
		lc, q, reused, err := l.send(ctx, addr, req.Bytes())
		if err != nil {
			return nil, err
		}
		r, answered, err := l.answer(ctx, lc, q, headerTO)
		if err == nil {
			return r, nil
		}
		if errors.Is(err, errLeanSkip) {
			l.mu.Lock()
			l.skip[addr] = true
			l.mu.Unlock()
		}
		again := errors.Is(err, errUnanswered) || reused && !answered && ctx.Err() == nil && !isTimeout(err)
		if !again || resent == 8 {
			return nil, err
		}
		if !errors.Is(err, errUnanswered) && resent == 0 {
			// A server that closed a connection while it idled has most
			// likely closed the others that idled as long.
			l.closeIdle(addr)
		}
	}
}

// send puts the request on a connection to addr, waiting for room, and
// says whether the connection had answered before or had requests ahead.
// Requests are written with mu held, so in the order of the queue: onto
// a connection dialled and written to already (they are a few hundred
// bytes, and never more than depth of them unanswered), or by the first
// request of one still opening, once it is open, before any other.
func (l *lean) send(ctx context.Context, addr string, req []byte) (*leanConn, *leanReq, bool, error) {
	l.mu.Lock()
	if l.skip[addr] {
		l.mu.Unlock()
		return nil, nil, false, errLeanSkip
	}
	var lc *leanConn
	var wake func() bool // set once it waits for room, as a request rarely does
	for {
		if err := ctx.Err(); err != nil {
			l.freed.Signal() // a place this one was woken for is another's
			l.mu.Unlock()
			if wake != nil {
				wake()
			}
			return nil, nil, false, ctxErr(ctx)
		}
		if lc = l.pick(addr); lc != nil {
			break
		}
		if wake == nil {
			// The end of ctx wakes it too.
			wake = context.AfterFunc(ctx, func() {
				l.mu.Lock()
				l.freed.Broadcast()
				l.mu.Unlock()
			})
		}
		l.freed.Wait()
	}
	if wake != nil {
		wake()
	}
	q := &leanReq{turn: make(chan struct{}), piped: len(lc.queue) > 0}
	reused := lc.used || q.piped
	lc.queue = append(lc.queue, q)
	if len(lc.queue) == 1 {
		close(q.turn)
	}
	if lc.primed {
		l.write(lc, req)
		l.mu.Unlock()
		return lc, q, reused, nil
	}
	l.mu.Unlock()
	select {
	case <-lc.ready:
	case <-ctx.Done():
		l.leave(lc, q)
		return nil, nil, false, ctxErr(ctx)
	}
	if lc.dialErr != nil {
		l.leave(lc, q)
		return nil, nil, false, lc.dialErr
	}
	l.mu.Lock()
	if !q.unanswered { // (else dropped meanwhile: answer says so)
		l.write(lc, req)
	}
	l.mu.Unlock()
	return lc, q, reused, nil
}

// write sends a request on lc, open; a connection it cannot be written
// to is closed, which whoever reads its next answer finds. Called with
// mu held.
func (l *lean) write(lc *leanConn, req []byte) {
	if !lc.primed {
		lc.primed = true
		l.freed.Broadcast() // requests may follow it now
	}
	lc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	lc.bw.Write(req)
	if err := lc.bw.Flush(); err != nil {
		lc.c.Close()
	}
}

// answer waits for q's turn on lc and reads its response's headers;
// answered reports whether any byte of a response came.
func (l *lean) answer(ctx context.Context, lc *leanConn, q *leanReq, headerTO time.Duration) (*leanResponse, bool, error) {
	select {
	case <-q.turn:
	case <-ctx.Done():
		l.leave(lc, q)
		return nil, false, ctxErr(ctx)
	}
	if q.unanswered {
		select {
		case <-lc.ready:
			if lc.dialErr != nil {
				return nil, false, lc.dialErr // not dialled again for each
			}
		default:
		}
		return nil, false, errUnanswered
	}
	// Cancelling ctx (the caller, or httpc's idle timer) must unblock a
	// read on the socket: a deadline in the past does that.
	stop := context.AfterFunc(ctx, func() { lc.c.SetDeadline(time.Unix(1, 0)) })
	lc.c.SetReadDeadline(time.Now().Add(headerTO))
	r, keep, err := readHead(lc.br)
	fail := func(answered bool, err error) (*leanResponse, bool, error) {
		stop()
		l.finish(lc, false)
		return nil, answered, err
	}
	switch {
	case err != nil && r == nil:
		if q.piped && ctx.Err() == nil && !isTimeout(err) {
			// The server ended the connection under a pipeline without a
			// word.
			l.mu.Lock()
			l.breaks[lc.addr]++
			l.mu.Unlock()
		}
		return fail(false, l.cause(ctx, err))
	case err != nil && (ctx.Err() != nil || isTimeout(err)):
		return fail(true, l.cause(ctx, err))
	case err != nil:
		return fail(true, fmt.Errorf("%w: %w", errLeanSkip, err))
	case r.size < 0 && !r.chunked || r.code != http.StatusOK && r.code < 400:
		return fail(true, fmt.Errorf("%w: HTTP %d", errLeanSkip, r.code))
	}
	lc.c.SetReadDeadline(time.Time{})
	if !keep {
		// The server closes after this answer: nothing more goes on it.
		l.mu.Lock()
		lc.broken = true
		l.mu.Unlock()
	}
	body := &leanBody{l: l, lc: lc, stop: stop, left: r.size, keep: keep, ctx: ctx}
	if r.chunked {
		body.chunks = &chunkReader{br: lc.br}
	}
	r.body = body
	return r, true, nil
}

// finish ends the answer at the head of lc's queue: read whole (keep),
// the next request's turn comes; else the connection is dropped and the
// requests behind are sent again elsewhere.
func (l *lean) finish(lc *leanConn, keep bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(lc.queue) == 0 { // (never: only the head finishes)
		l.drop(lc)
		return
	}
	lc.queue = lc.queue[1:]
	lc.used = true
	if keep && !lc.broken && len(lc.queue) > 0 && lc.queue[0].left {
		keep = false // an answer no one will read is in the way
	}
	if keep && !lc.broken {
		if len(lc.queue) > 0 {
			close(lc.queue[0].turn)
		}
		l.freed.Signal() // one place: one request waiting for room
		return
	}
	for _, q := range lc.queue {
		q.unanswered = true
		if !q.left {
			close(q.turn)
		}
	}
	lc.queue = nil
	l.drop(lc)
}

// leave takes q out of lc's queue, its sender gone: at the head, the
// connection's answers can no longer be followed and it is dropped;
// behind, q's answer is met in its turn, and the connection dropped then.
func (l *lean) leave(lc *leanConn, q *leanReq) {
	l.mu.Lock()
	if len(lc.queue) > 0 && lc.queue[0] == q && !q.unanswered {
		l.mu.Unlock()
		l.finish(lc, false)
		return
	}
	q.left = true
	l.mu.Unlock()
}

// closeIdle closes the connections that wait for no answer, and those
// still opening that no request has taken: to the servers given, or to
// all.
func (l *lean) closeIdle(addrs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for addr, cs := range l.open {
		if len(addrs) > 0 && !slices.Contains(addrs, addr) {
			continue
		}
		for _, lc := range slices.Clone(cs) {
			if len(lc.queue) == 0 {
				l.drop(lc)
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// cause reports why a cancelled request failed rather than the deadline
// that unblocked it.
func (l *lean) cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	return err
}

// readHead parses a status line and headers. It returns a nil response if
// no byte came, and keep=false if the connection cannot be reused after
// the body.
func readHead(br *bufio.Reader) (*leanResponse, bool, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 {
			return nil, false, err
		}
		return &leanResponse{}, false, err
	}
	r := &leanResponse{size: -1}
	rest, ok := bytes.CutPrefix(line, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 5 || rest[3] != ' ' && rest[3] != '\r' {
		return r, false, fmt.Errorf("malformed status line %q", line)
	}
	r.code, err = strconv.Atoi(string(rest[:3]))
	if err != nil || r.code < 100 {
		return r, false, fmt.Errorf("malformed status line %q", line)
	}
	r.status = strings.TrimSpace(string(rest))
	keep := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return r, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return r, false, fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || r.size >= 0 && n != r.size {
				return r, false, fmt.Errorf("bad Content-Length %q", value)
			}
			r.size = n
		case asciiEqualFold(name, "transfer-encoding"):
			if !asciiEqualFold(value, "chunked") {
				return r, false, fmt.Errorf("transfer-encoding %q", value)
			}
			r.chunked = true
		case asciiEqualFold(name, "etag"):
			r.etag = string(value)
		case asciiEqualFold(name, "last-modified"):
			r.modified = string(value)
		case asciiEqualFold(name, "connection"):
			if asciiEqualFold(value, "close") {
				keep = false
			}
		case asciiEqualFold(name, "retry-after"):
			r.retryAfter = string(value)
		}
	}
	if r.chunked {
		r.size = -1 // a Content-Length beside it is ignored (RFC 9112)
	}
	return r, keep, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// leanBody reads exactly Content-Length bytes, or a chunked body; the
// connection goes back to the pool only if the whole body was read.
type leanBody struct {
	l      *lean
	lc     *leanConn
	stop   func() bool
	ctx    context.Context
	left   int64 // -1 for chunked
	chunks *chunkReader
	keep   bool
	err    error
	done   bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	var n int
	var err error
	if b.chunks != nil {
		n, err = b.chunks.Read(p)
		if err == io.EOF {
			b.left = 0
			return n, io.EOF
		}
	} else {
		if b.left == 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.lc.br.Read(p)
		b.left -= int64(n)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = b.l.cause(b.ctx, err)
		return n, b.err
	}
	return n, nil
}

func (b *leanBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	// A cancellation that already fired may still be setting a deadline.
	unfired := b.stop()
	b.l.finish(b.lc, unfired && b.keep && b.left == 0 && b.err == nil)
	return nil
}

// chunkReader decodes a chunked body (RFC 9112 section 7.1) and consumes
// its trailer section, so the connection can carry the next response.
type chunkReader struct {
	br   *bufio.Reader
	left int64 // of the current chunk
	eof  bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.eof {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := c.line()
		if err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, up to the empty line
				t, err := c.line()
				if err != nil {
					return 0, err
				}
				if len(t) == 0 {
					c.eof = true
					return 0, io.EOF
				}
			}
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err == nil && c.left == 0 {
		if crlf, err := c.line(); err != nil {
			return n, err
		} else if len(crlf) != 0 {
			return n, errors.New("chunk not followed by CRLF")
		}
	}
	return n, err
}

func (c *chunkReader) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("chunk header too long")
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
