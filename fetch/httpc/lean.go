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
type lean struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	ua    string
	slots chan struct{} // one per connection this client may have open
	mu    sync.Mutex
	idle  map[string][]*leanConn // by host:port
	// skip holds the servers whose answers need net/http (HTTP/1.0, no
	// length, redirects): asked once here, they are not asked every
	// request twice.
	skip map[string]bool
	// warming are the connections warm is opening and no request has
	// claimed yet, by host:port.
	warming map[string][]*warmDial
}

// warmDial is a connection opened before a request asked for it. A
// request that finds none idle claims one still opening and waits for it
// rather than opening another: the handshake is already under way.
type warmDial struct {
	done    chan struct{} // closed once the dial ended (landed is set)
	landed  bool
	lc      *leanConn // nil when the dial failed
	claimed bool      // a request waits for it
	left    bool      // the request that claimed it stopped waiting
	drop    bool      // closeIdle ran while it was opening
}

// errLeanSkip sends a request to net/http instead.
var errLeanSkip = errors.New("not for the lean path")

type leanConn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

func newLean(connect time.Duration, conns int, ua string) *lean {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &lean{dial: d.DialContext, ua: ua, slots: make(chan struct{}, conns), idle: map[string][]*leanConn{}, skip: map[string]bool{},
		warming: map[string][]*warmDial{}}
}

// warm opens connections to addr in the background until n are open or
// opening (idle, in use, or warming; never more than the client may
// have), so that requests sent together later each find one ready
// instead of waiting a round trip for its handshake.
func (l *lean) warm(addr string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.skip[addr] {
		return
	}
	n = min(n, cap(l.slots))
	for have := len(l.slots) + len(l.idle[addr]) + len(l.warming[addr]); have < n; have++ {
		w := &warmDial{done: make(chan struct{})}
		l.warming[addr] = append(l.warming[addr], w)
		go l.dialWarm(addr, w)
	}
}

// dialWarm opens w's connection and leaves it idle, or to the request
// that claimed it.
func (l *lean) dialWarm(addr string, w *warmDial) {
	ctx, cancel := context.WithCancel(context.Background()) // the dialer's timeout bounds it
	c, err := l.dial(ctx, "tcp", addr)
	cancel()
	var lc *leanConn
	if err == nil {
		lc = l.newConn(addr, c)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w.landed, w.lc = true, lc
	close(w.done)
	if !w.claimed {
		ws := l.warming[addr]
		for i := range ws {
			if ws[i] == w {
				l.warming[addr] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
	}
	switch {
	case lc == nil:
	case w.drop:
		lc.c.Close()
	case !w.claimed || w.left:
		l.idle[addr] = append(l.idle[addr], lc)
	}
}

// claimWarm waits for a connection warm is opening to addr, when there
// is one no request has claimed: nil when there is none, or its dial
// failed (the caller opens its own).
func (l *lean) claimWarm(ctx context.Context, addr string) (*leanConn, error) {
	l.mu.Lock()
	ws := l.warming[addr]
	if len(ws) == 0 {
		l.mu.Unlock()
		return nil, nil
	}
	w := ws[0]
	l.warming[addr] = ws[1:]
	w.claimed = true
	l.mu.Unlock()
	select {
	case <-w.done:
		return w.lc, nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.landed {
			if w.lc != nil && !w.drop {
				l.idle[addr] = append(l.idle[addr], w.lc)
			}
		} else {
			w.left = true // it goes idle when it lands
		}
		return nil, ctx.Err()
	}
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
// waiting at most headerTO for them once a connection is in hand.
func (l *lean) get(ctx context.Context, addr, host, uri, header string, headerTO time.Duration) (*leanResponse, error) {
	l.mu.Lock()
	skip := l.skip[addr]
	l.mu.Unlock()
	if skip {
		return nil, errLeanSkip
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for try := 0; ; try++ {
		lc, reused, err := l.conn(ctx, addr)
		if err != nil {
			<-l.slots
			return nil, err
		}
		r, answered, err := l.roundTrip(ctx, lc, host, uri, header, headerTO)
		if err == nil {
			return r, nil
		}
		lc.c.Close()
		if errors.Is(err, errLeanSkip) {
			l.mu.Lock()
			l.skip[addr] = true
			l.mu.Unlock()
		}
		// A kept-alive connection the server closed meanwhile fails before
		// any answer; a GET is safe to send again, once, on a new one. A
		// server that took the request and said nothing is not asked twice.
		if reused && try == 0 && !answered && ctx.Err() == nil && !isTimeout(err) {
			continue
		}
		<-l.slots
		return nil, err
	}
}

func (l *lean) conn(ctx context.Context, addr string) (*leanConn, bool, error) {
	l.mu.Lock()
	if cs := l.idle[addr]; len(cs) > 0 {
		lc := cs[len(cs)-1]
		l.idle[addr] = cs[:len(cs)-1]
		l.mu.Unlock()
		return lc, true, nil
	}
	l.mu.Unlock()
	// One opened ahead is treated as kept alive: the server may have
	// closed it meanwhile, and the request is then sent again on another.
	if lc, err := l.claimWarm(ctx, addr); err != nil || lc != nil {
		return lc, lc != nil, err
	}
	c, err := l.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return l.newConn(addr, c), false, nil
}

func (l *lean) newConn(addr string, c net.Conn) *leanConn {
	return &leanConn{addr: addr, c: c, br: bufio.NewReaderSize(c, 32<<10), bw: bufio.NewWriterSize(c, 1<<10)}
}

// put keeps a connection whose last response was read whole, and gives
// its slot back.
func (l *lean) put(lc *leanConn, keep bool) {
	l.mu.Lock()
	if keep {
		l.idle[lc.addr] = append(l.idle[lc.addr], lc)
		lc = nil
	}
	l.mu.Unlock()
	if lc != nil {
		lc.c.Close()
	}
	<-l.slots
}

// closeIdle closes kept-alive connections.
func (l *lean) closeIdle() {
	l.mu.Lock()
	idle := l.idle
	l.idle = map[string][]*leanConn{}
	for _, ws := range l.warming {
		for _, w := range ws {
			w.drop = true
		}
	}
	l.warming = map[string][]*warmDial{}
	l.mu.Unlock()
	for _, cs := range idle {
		for _, lc := range cs {
			lc.c.Close()
		}
	}
}

// roundTrip sends the request on lc and reads the response headers;
// answered reports whether any byte of a response came.
func (l *lean) roundTrip(ctx context.Context, lc *leanConn, host, uri, header string, headerTO time.Duration) (r *leanResponse, answered bool, err error) {
	// Cancelling ctx (the caller, or httpc's idle timer) must unblock a
	// read on the socket: a deadline in the past does that.
	stop := context.AfterFunc(ctx, func() { lc.c.SetDeadline(time.Unix(1, 0)) })
	lc.c.SetDeadline(time.Now().Add(headerTO))
	bw := lc.bw
	bw.WriteString("GET ")
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	if l.ua != "" {
		bw.WriteString("\r\nUser-Agent: ")
		bw.WriteString(l.ua)
	}
	bw.WriteString(header)
	bw.WriteString("\r\n\r\n")
	if err := bw.Flush(); err != nil {
		stop()
		return nil, false, l.cause(ctx, err)
	}
	r, keep, err := readHead(lc.br)
	if err != nil {
		stop()
		if r == nil {
			return nil, false, l.cause(ctx, err)
		}
		if ctx.Err() != nil || isTimeout(err) {
			return nil, true, l.cause(ctx, err)
		}
		return nil, true, fmt.Errorf("%w: %w", errLeanSkip, err)
	}
	if r.size < 0 && !r.chunked || r.code != http.StatusOK && r.code < 400 {
		stop()
		return nil, true, fmt.Errorf("%w: HTTP %d", errLeanSkip, r.code)
	}
	lc.c.SetDeadline(time.Time{})
	r.body = &leanBody{l: l, lc: lc, stop: stop, left: r.size, keep: keep, ctx: ctx}
	if r.chunked {
		r.body.(*leanBody).chunks = &chunkReader{br: lc.br}
	}
	return r, true, nil
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
	b.l.put(b.lc, unfired && b.keep && b.left == 0 && b.err == nil)
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
