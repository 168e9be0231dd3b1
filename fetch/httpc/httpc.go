// Package httpc fetches files from OSTree repositories published as static
// files: by any web server or CDN over HTTP(S), or from a local directory
// through file:// URLs.
//
// Static hosting gives no protocol-level help with failure, so this layer
// supplies it: transient errors are retried with jittered exponential
// backoff, mirrors are tried in order, every wait is bounded (connect,
// response headers, and a body that stops making progress), truncated bodies
// are reported as errors rather than short reads, and concurrent requests
// for one object can be merged with Group.
package httpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	// ErrNotFound means no mirror has the file: every mirror answered
	// 404 (or 403/410, which ostree treats the same way because S3-style
	// buckets answer 403 for missing keys), or the file:// path is missing.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge means a body exceeded the caller's size limit.
	ErrTooLarge = errors.New("exceeded maximum size")
	// ErrTruncated means the connection ended before the whole body
	// arrived (worded as ostree's, which scripts grep for).
	ErrTruncated = errors.New("Download incomplete")
	// ErrInvalidPath means a requested path is not a clean relative path.
	ErrInvalidPath = errors.New("invalid path")
)

// Defaults for zero Options fields.
const (
	DefaultAttempts        = 5
	DefaultBackoff         = 200 * time.Millisecond
	DefaultMaxBackoff      = 2 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultHeaderTimeout   = 30 * time.Second
	DefaultIdleTimeout     = 30 * time.Second
	DefaultMaxConnsPerHost = 16
)

// Options configures a Client. Zero fields take the defaults above.
type Options struct {
	// Mirrors are base URLs (http, https or file) tried in order. New
	// normalises each to end in '/', so paths are always resolved below it.
	Mirrors []string
	// Attempts is the total number of tries per mirror for transient errors.
	Attempts int
	// Backoff is the delay before the first retry; it doubles on each
	// further retry, with jitter, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// ConnectTimeout bounds dialing and the TLS handshake (default
	// transport only).
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for response headers once a connection
	// is in hand (waiting for a free connection slot is bounded only by ctx,
	// since that is our own concurrency, not the server being slow).
	HeaderTimeout time.Duration
	// IdleTimeout fails a body read that makes no progress for this long, so
	// a server that stalls mid-body cannot hang a pull forever. Only time
	// spent inside Read counts: a consumer pausing between reads is not
	// the server's fault.
	IdleTimeout time.Duration
	// MaxConnsPerHost limits (and keeps alive) connections per host: with
	// 8, a pull of /usr/share from nginx on loopback took a tenth longer
	// than with the default 16, workers waiting for a free connection.
	// Beyond them, plain HTTP requests are pipelined (lean.go).
	MaxConnsPerHost int
	UserAgent       string
	// Header is sent with every request (a remote's configured headers).
	Header http.Header
	// Cookies go with the requests to the mirrors they match.
	Cookies []Cookie
	// Transport replaces the default tuned *http.Transport (for tests or
	// special proxies); ConnectTimeout and MaxConnsPerHost then do not apply.
	Transport http.RoundTripper
}

// Stats are cumulative counters for progress output and benchmarks.
type Stats struct {
	Requests int64 // requests issued, retries included (file:// opens count too)
	Bytes    int64 // body bytes received
	Retries  int64 // retries after transient errors
}

// Client fetches repository files from a list of mirrors. It is safe for
// concurrent use.
type Client struct {
	mirrors    []*mirror
	hc         *http.Client
	ua         string
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	headerTO   time.Duration
	idleTO     time.Duration
	lean       *lean // nil with a caller's Transport
	header     http.Header
	cookies    []Cookie
	// list, when set, is the mirror list's directory and listName its
	// file: mirrors are then what it names, read once (under listMu).
	list     *mirror
	listName string
	listMu   sync.Mutex
	// metalink: list is a metalink document, and summary the summary
	// it pinned, verified against its checksum.
	metalink bool
	summary  []byte

	requests, bytes, retries atomic.Int64
	// good is the mirror that answered last: later requests start there, so
	// a dead first mirror costs its retries once, not on every file.
	good atomic.Int32
}

// mirror is one parsed base URL.
type mirror struct {
	u    *url.URL // always ends in '/'
	name string   // for messages, password redacted
	dir  string   // non-empty for file:// mirrors
	// addr (host:port) is set when plain GETs may take the lean path:
	// http, no credentials in the URL, no proxy.
	addr string
	// header is sent with every request to this mirror; leanHeader is
	// it as the lean path writes it.
	header     http.Header
	leanHeader string
}

// newMirror parses a base URL and readies what its requests carry.
func (c *Client) newMirror(raw string) (*mirror, error) {
	m, err := parseMirror(raw)
	if err != nil {
		return nil, err
	}
	if m.header, err = mirrorHeader(m, c.header, c.cookies); err != nil {
		return nil, err
	}
	m.leanHeader = headerLines(m.header)
	if c.lean == nil || m.u.Scheme != "http" || m.u.User != nil {
		return m, nil
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: m.u}); err != nil || proxy != nil {
		return m, nil
	}
	port := m.u.Port()
	if port == "" {
		port = "80"
	}
	m.addr = net.JoinHostPort(m.u.Hostname(), port)
	return m, nil
}

// maxMirrorlist bounds a mirror list's size.
const maxMirrorlist = 1 << 20

// mirrorList is the mirrors to try: those configured, or those the
// mirror list names, fetched on first use.
func (c *Client) mirrorList(ctx context.Context) ([]*mirror, error) {
	if c.list == nil {
		return c.mirrors, nil
	}
	c.listMu.Lock()
	defer c.listMu.Unlock()
	if c.mirrors != nil {
		return c.mirrors, nil
	}
	if c.metalink {
		if err := c.resolveMetalink(ctx); err != nil {
			return nil, err
		}
		return c.mirrors, nil
	}
	b, err := c.readList(ctx, maxMirrorlist)
	if err != nil {
		return nil, err
	}
	ms, err := c.parseMirrorlist(b)
	if err != nil {
		return nil, fmt.Errorf("mirrorlist %s%s: %w", c.list.name, c.listName, err)
	}
	c.mirrors = ms
	return ms, nil
}

// readList fetches the mirror list or metalink document.
func (c *Client) readList(ctx context.Context, max int64) ([]byte, error) {
	var b []byte
	err := c.fromMirror(ctx, c.list, c.listName, cond{}, func(r *reply) error {
		defer r.body.Close()
		var err error
		b, err = io.ReadAll(io.LimitReader(r.body, max+1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", c.list.name, c.listName, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s%s: larger than %d bytes", c.list.name, c.listName, max)
	}
	return b, nil
}

// parseMirrorlist reads a mirror list: one base URL a line, blank lines
// and lines starting with '#' skipped.
func (c *Client) parseMirrorlist(b []byte) ([]*mirror, error) {
	var ms []*mirror
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "mirrorlist=") || strings.HasPrefix(line, "metalink=") {
			return nil, fmt.Errorf("URL %q: a list may not name another list", line)
		}
		m, err := c.newMirror(line)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, errors.New("names no mirrors")
	}
	return ms, nil
}

// New checks the options and builds a Client.
func New(o Options) (*Client, error) {
	if len(o.Mirrors) == 0 {
		return nil, errors.New("httpc: no mirror URLs configured")
	}
	c := &Client{
		ua:         o.UserAgent,
		attempts:   orDefault(o.Attempts, DefaultAttempts),
		backoff:    orDefault(o.Backoff, DefaultBackoff),
		maxBackoff: orDefault(o.MaxBackoff, DefaultMaxBackoff),
		headerTO:   orDefault(o.HeaderTimeout, DefaultHeaderTimeout),
		idleTO:     orDefault(o.IdleTimeout, DefaultIdleTimeout),
	}
	if c.maxBackoff < c.backoff {
		c.maxBackoff = c.backoff
	}
	c.header, c.cookies = o.Header, o.Cookies
	rt := o.Transport
	if rt == nil {
		connect, conns := orDefault(o.ConnectTimeout, DefaultConnectTimeout), orDefault(o.MaxConnsPerHost, DefaultMaxConnsPerHost)
		rt = newTransport(connect, conns)
		c.lean = newLean(connect, conns, o.UserAgent)
	}
	list, isList := strings.CutPrefix(o.Mirrors[0], "mirrorlist=")
	if ml, ok := strings.CutPrefix(o.Mirrors[0], "metalink="); ok {
		list, isList, c.metalink = ml, true, true
	}
	if isList {
		if len(o.Mirrors) > 1 {
			return nil, fmt.Errorf("httpc: a mirrorlist= or metalink= URL must be the only one")
		}
		dir, name := path.Split(list)
		m, err := c.newMirror(dir)
		if err != nil {
			return nil, fmt.Errorf("httpc: mirrorlist: %w", err)
		}
		c.list, c.listName = m, name
	}
	for _, raw := range o.Mirrors {
		if c.list != nil {
			break
		}
		m, err := c.newMirror(raw)
		if err != nil {
			return nil, err
		}
		c.mirrors = append(c.mirrors, m)
	}
	// http.Client rather than the bare RoundTripper: CDNs and mirror
	// redirectors answer with redirects, which it follows.
	c.hc = &http.Client{Transport: rt}
	return c, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func newTransport(connect time.Duration, conns int) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: connect,
		MaxConnsPerHost:     conns,
		// Keep as many idle connections as we may open, or sequential
		// fetches after a burst would redial.
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		// Objects are already compressed; transparent gzip would only hide
		// the real Content-Length that truncation checks rely on.
		DisableCompression: true,
	}
}

func parseMirror(raw string) (*mirror, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("httpc: mirror URL: %w", err)
	}
	m := &mirror{u: u}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("httpc: mirror URL %q has no host", u.Redacted())
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("httpc: mirror URL %q: file URLs on another host are not supported", u.Redacted())
		}
		if u.Path == "" {
			return nil, fmt.Errorf("httpc: mirror URL %q has no path", u.Redacted())
		}
		m.dir = filepath.FromSlash(u.Path)
	case "":
		return nil, fmt.Errorf("httpc: mirror URL %q is not absolute (want http://, https:// or file://)", u.Redacted())
	default:
		// ostree's words first, which scripts match.
		return nil, fmt.Errorf("Invalid URI scheme in %s (arbor fetches http, https and file URLs)", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		// Paths are appended to the base; a query or fragment would end up
		// in the middle of every object URL.
		return nil, fmt.Errorf("httpc: mirror URL %q must not have a query or fragment", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, "/") {
		if u.RawPath != "" {
			u.RawPath += "/"
		}
		u.Path += "/"
	}
	m.name = u.Redacted()
	return m, nil
}

// join returns the URL of path p below the mirror.
func (m *mirror) join(p string) string {
	u := *m.u
	u.Path = m.u.Path + p
	u.RawPath = m.escaped(p)
	return u.String()
}

// escaped is the escaped URL path of p below the mirror.
func (m *mirror) escaped(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return m.u.EscapedPath() + strings.Join(segs, "/")
}

// checkPath accepts only clean relative slash-separated paths, so a path
// taken from (untrusted) repository metadata cannot escape the repository,
// on a web server or on disk.
func checkPath(p string) error {
	why := ""
	switch {
	case p == "":
		why = "empty"
	case strings.HasPrefix(p, "/"):
		why = "absolute"
	case strings.IndexByte(p, 0) >= 0:
		why = "contains NUL"
	default:
		for _, s := range strings.Split(p, "/") {
			if s == "" || s == "." || s == ".." {
				why = "has an empty, '.' or '..' component"
				break
			}
		}
	}
	if why != "" {
		return fmt.Errorf("httpc: path %q: %w: %s", p, ErrInvalidPath, why)
	}
	return nil
}

// Stats reports the counters so far.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Bytes: c.bytes.Load(), Retries: c.retries.Load()}
}

// CloseIdleConnections closes kept-alive connections, e.g. once a pull is
// done.
func (c *Client) CloseIdleConnections() {
	c.hc.CloseIdleConnections()
	if c.lean != nil {
		c.lean.closeIdle()
	}
}

// Warm opens connections to the mirror requests go to first, in the
// background, until n are open or opening, for an operation about to
// send that many requests at once: over a wide area link each new
// connection costs a round trip before its first request leaves, and
// opened now, that round trip passes while the operation waits for its
// first answers. A request that finds none idle takes one still opening.
// Only plain HTTP mirrors are warmed (others go through net/http, which
// opens connections as requests need them); no bytes are sent.
func (c *Client) Warm(n int) {
	if c.lean == nil || c.list != nil || len(c.mirrors) == 0 {
		return
	}
	m := c.mirrors[int(c.good.Load())%len(c.mirrors)]
	if m.addr != "" {
		c.lean.warm(m.addr, n)
	}
}

// Get fetches path and returns the whole body, which may be at most max
// bytes.
func (c *Client) Get(ctx context.Context, path string, max int64) ([]byte, error) {
	b, _, _, _, err := c.get(ctx, path, cond{}, max)
	return b, err
}

// GetConditional is Get sending If-None-Match / If-Modified-Since from a
// previous response (either may be empty), for caching the summary. On 304
// it returns notModified with a nil body. file:// mirrors never report
// notModified (and return empty validators): reading a local file is as
// cheap as checking it, and mtimes are too coarse to be trusted.
func (c *Client) GetConditional(ctx context.Context, path string, etag, lastModified string, max int64) (body []byte, newEtag, newLastModified string, notModified bool, err error) {
	return c.get(ctx, path, cond{etag: etag, lastModified: lastModified}, max)
}

func (c *Client) get(ctx context.Context, p string, cd cond, max int64) ([]byte, string, string, bool, error) {
	if max < 0 {
		return nil, "", "", false, fmt.Errorf("httpc: fetch %s: negative size limit %d", p, max)
	}
	if p == "summary" && c.metalink {
		// Through a metalink, the summary is the one it pinned.
		if _, err := c.mirrorList(ctx); err != nil {
			return nil, "", "", false, err
		}
		if int64(len(c.summary)) > max {
			return nil, "", "", false, fmt.Errorf("httpc: fetch %s: larger than %d bytes", p, max)
		}
		return c.summary, "", "", false, nil
	}
	// A body cut short is kept, and a retry asks for the rest of it.
	rs := &resume{}
	cd.resume = rs
	var res *reply
	var data []byte
	err := c.fetch(ctx, p, cd, func(r *reply) error {
		if r.notModified {
			res = r
			return nil
		}
		defer r.body.Close()
		if r.offset != rs.n {
			rs.restart()
			if r.offset != 0 {
				return fmt.Errorf("%w: asked for the rest from byte %d, got from %d", ErrTruncated, rs.n, r.offset)
			}
		}
		if r.size > max-rs.n || r.total > max {
			return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, p, r.size+rs.n, max)
		}
		b, err := readAll(r.body, r.size, max-rs.n)
		rs.add(b, r.etag)
		if err != nil {
			return err
		}
		res, data = r, rs.have
		return nil
	})
	if err != nil {
		return nil, "", "", false, err
	}
	return data, res.etag, res.lastModified, res.notModified, nil
}

// resume is what a request has received of a file so far: a retry asks
// only for the rest, with a range request bound to the same version of
// the file (If-Range).
type resume struct {
	have []byte // the bytes, for a caller reading the body whole
	n    int64
	etag string
}

func (rs *resume) add(b []byte, etag string) {
	rs.have = append(rs.have, b...)
	rs.n += int64(len(b))
	if etag != "" {
		rs.etag = etag
	}
}

func (rs *resume) restart() { rs.have, rs.n, rs.etag = rs.have[:0], 0, "" }

// readAll reads at most max bytes, allocating once when the size is known.
// On a failed read it returns what it read before.
func readAll(r io.Reader, size, max int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 && size <= max {
		n = size + 1 // +1 so the final read that sees EOF needs no growth
	}
	buf := make([]byte, 0, n)
	limit := max + 1
	if max == math.MaxInt64 {
		limit = max
	}
	lr := io.LimitReader(r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err // what came, for a retry to go on from
		}
	}
}

// Open streams path, with the same retry and mirror rules as Get up to the
// response headers. It returns the body and its size (-1 if unknown). The
// reader fails (rather than stalling) when no data arrives for
// IdleTimeout, and reports a short body as ErrTruncated, never io.EOF.
func (c *Client) Open(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	var res *reply
	err := c.fetch(ctx, path, cond{}, func(r *reply) error {
		res = r
		return nil
	})
	if err != nil {
		return nil, -1, err
	}
	res.body.label = fmt.Sprintf("read %s from %s", path, res.mirror.name)
	rb := &resumingBody{c: c, ctx: ctx, path: path, cur: res.body, rs: &resume{etag: res.etag}}
	return rb, res.size, nil
}

// resumingBody is a streamed body that, cut short, asks the server for
// the rest (a range request) and goes on reading, up to the client's
// attempts. A server that ignores the range sends the whole file again:
// what was read already is skipped.
type resumingBody struct {
	c     *Client
	ctx   context.Context
	path  string
	cur   io.ReadCloser
	rs    *resume
	tries int
	err   error // sticky: a failed resume ends the stream
}

func (b *resumingBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for {
		n, err := b.cur.Read(p)
		b.rs.n += int64(n)
		if n > 0 || !errors.Is(err, ErrTruncated) || b.tries+1 >= b.c.attempts || b.ctx.Err() != nil {
			if n > 0 && err != nil && err != io.EOF {
				err = nil // reported, or resumed, on the next Read
			}
			return n, err
		}
		b.tries++
		b.c.retries.Add(1)
		if rerr := b.reopen(); rerr != nil {
			b.err = fmt.Errorf("%w (resuming after: %v)", rerr, err)
			return 0, b.err
		}
	}
}

// reopen replaces the cut body with the rest of the file.
func (b *resumingBody) reopen() error {
	b.cur.Close()
	b.cur = io.NopCloser(strings.NewReader("")) // until a new body is in hand
	return b.c.fetch(b.ctx, b.path, cond{resume: b.rs}, func(r *reply) error {
		if r.offset != b.rs.n {
			if r.offset != 0 {
				r.body.Close()
				return fmt.Errorf("%w: asked for the rest from byte %d, got from %d", ErrTruncated, b.rs.n, r.offset)
			}
			if _, err := io.CopyN(io.Discard, r.body, b.rs.n); err != nil {
				r.body.Close()
				return err
			}
		}
		r.body.label = fmt.Sprintf("read %s from %s", b.path, r.mirror.name)
		b.cur = r.body
		return nil
	})
}

func (b *resumingBody) Close() error { return b.cur.Close() }

// GetPrefix fetches at most the first n bytes of path, with a Range
// request; complete reports that they are the whole file. A server that
// ignores Range sends the whole file: up to maxIgnoredRange it is read
// and returned whole (complete), so that nothing it sent is fetched again;
// of a larger one, n bytes are read.
func (c *Client) GetPrefix(ctx context.Context, path string, n int64) (data []byte, complete bool, err error) {
	if n <= 0 {
		return nil, false, fmt.Errorf("httpc: fetch %s: prefix size %d", path, n)
	}
	err = c.fetch(ctx, path, cond{prefix: n}, func(r *reply) error {
		defer r.body.Close()
		want := n
		if r.total < 0 && r.size > n && r.size <= maxIgnoredRange {
			// The server ignored the range and sends the whole file:
			// keep it rather than throw away what is on its way.
			want = r.size
		}
		b, err := io.ReadAll(io.LimitReader(r.body, want+1))
		if err != nil {
			return err
		}
		total := r.size
		if r.total >= 0 {
			total = r.total
		}
		complete = total >= 0 && int64(len(b)) == total || total < 0 && int64(len(b)) <= n
		if complete {
			data = b
		} else {
			data = b[:min(int64(len(b)), n)]
		}
		return nil
	})
	return data, complete, err
}

// maxIgnoredRange is the largest whole file GetPrefix keeps when a
// server answers its range request with all of it.
const maxIgnoredRange = 4 << 20

// cond holds the validators of a conditional request, or the length of
// the prefix a range request asks for.
type cond struct {
	etag, lastModified string
	prefix             int64
	resume             *resume // nil, or what a retry goes on from
}

// reply is one usable response: 200, or 304 to a conditional request.
type reply struct {
	mirror       *mirror
	body         *body // nil when notModified
	size         int64
	etag         string
	lastModified string
	notModified  bool
	total        int64 // the whole file's size from a 206's Content-Range, or -1
	offset       int64 // where in the file the body starts (a resumed 206)
}

// fetch runs use on a response for p from the first mirror that gives one,
// retrying transient failures. use must close r.body unless it keeps it, and
// its error is treated like a transport error (so a body cut short while
// being read is retried too).
func (c *Client) fetch(ctx context.Context, p string, cd cond, use func(r *reply) error) error {
	if err := checkPath(p); err != nil {
		return err
	}
	var notFound, other error
	mirrors, err := c.mirrorList(ctx)
	if err != nil {
		return err
	}
	start := int(c.good.Load())
	for i := range mirrors {
		idx := (start + i) % len(mirrors)
		m := mirrors[idx]
		err := c.fromMirror(ctx, m, p, cd, use)
		if err == nil || errors.Is(err, ErrNotFound) {
			c.good.Store(int32(idx))
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if errors.Is(err, ErrNotFound) {
			notFound = err
		} else {
			other = err
		}
	}
	// Mirrors hold the same repository: a mirror that answered "not found"
	// has answered, while one that failed has said nothing. This is what
	// makes optional files (summary.sig, commitmeta) work past a dead mirror.
	if notFound != nil {
		return notFound
	}
	return other
}

func (c *Client) fromMirror(ctx context.Context, m *mirror, p string, cd cond, use func(r *reply) error) error {
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, m, p, cd, use)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("fetch %s from %s: %w", p, m.name, ctxErr(ctx))
		}
		// A mirror that refuses connections is down: with others to try,
		// move on at once rather than waiting out the backoff.
		var op *net.OpError
		down := len(c.mirrors) > 1 && errors.As(err, &op) && op.Op == "dial"
		if !retryable(err) || attempt >= c.attempts || down {
			if attempt > 1 {
				return fmt.Errorf("fetch %s from %s (%d attempts): %w", p, m.name, attempt, err)
			}
			return fmt.Errorf("fetch %s from %s: %w", p, m.name, err)
		}
		c.retries.Add(1)
		t := time.NewTimer(c.delay(attempt, err))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("fetch %s from %s: %w (while retrying after: %v)", p, m.name, ctxErr(ctx), err)
		case <-t.C:
		}
	}
}

// ctxErr keeps errors.Is(err, context.Canceled) working when the context
// was cancelled with a custom cause, and reports that cause too.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// delay is the backoff before retry number attempt: exponential, capped,
// with jitter so that many clients failing together do not retry in
// lockstep. A server's Retry-After is honoured up to the cap.
func (c *Client) delay(attempt int, err error) time.Duration {
	d := c.backoff
	for i := 1; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	d = d/2 + rand.N(d/2+1)
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = min(se.RetryAfter, c.maxBackoff)
	}
	return d
}

func (c *Client) once(ctx context.Context, m *mirror, p string, cd cond, use func(r *reply) error) error {
	c.requests.Add(1)
	var r *reply
	var err error
	if m.dir != "" {
		r, err = c.openFile(m, p)
	} else {
		r, err = c.openHTTP(ctx, m, p, cd)
	}
	if err != nil {
		return err
	}
	return use(r)
}

func (c *Client) openFile(m *mirror, p string) (*reply, error) {
	f, err := os.Open(filepath.Join(m.dir, filepath.FromSlash(p)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", f.Name())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &reply{mirror: m, body: newBody(f, fi.Size(), nil, nil, 0, &c.bytes), size: fi.Size(), total: -1}, nil
}

func (c *Client) openHTTP(ctx context.Context, m *mirror, p string, cd cond) (*reply, error) {
	resuming := cd.resume != nil && cd.resume.n > 0
	if c.lean != nil && m.addr != "" && cd.etag == "" && cd.lastModified == "" && cd.prefix == 0 && !resuming {
		r, err := c.openLean(ctx, m, p)
		if !errors.Is(err, errLeanSkip) {
			return r, err
		}
	}
	rctx, cancel := context.WithCancelCause(ctx)
	// The header timer runs while a connection is in hand. The trace hooks
	// pause it while the transport waits for a free connection slot; a
	// RoundTripper without those hooks gets it for the whole round trip.
	hto := &timeoutError{what: "no response headers", after: c.headerTO}
	var fired atomic.Bool
	timer := time.AfterFunc(c.headerTO, func() {
		fired.Store(true)
		cancel(hto)
	})
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		GetConn: func(string) { timer.Stop() },
		GotConn: func(httptrace.GotConnInfo) { timer.Reset(c.headerTO) },
	})
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, m.join(p), nil)
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, err
	}
	for k, vs := range m.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	if cd.etag != "" {
		req.Header.Set("If-None-Match", cd.etag)
	}
	if cd.lastModified != "" {
		req.Header.Set("If-Modified-Since", cd.lastModified)
	}
	if cd.prefix > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", cd.prefix-1))
	}
	if resuming {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", cd.resume.n))
		if cd.resume.etag != "" {
			// A file changed since is sent whole, not spliced.
			req.Header.Set("If-Range", cd.resume.etag)
		}
	}
	resp, err := c.hc.Do(req)
	timer.Stop()
	if fired.Load() {
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, hto
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	b := newBody(resp.Body, resp.ContentLength, rctx, cancel, c.idleTO, &c.bytes)
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNonAuthoritativeInfo:
		return &reply{mirror: m, body: b, size: resp.ContentLength, total: -1,
			etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
	case resp.StatusCode == http.StatusPartialContent && cd.prefix > 0:
		total, err := contentRangeTotal(resp.Header.Get("Content-Range"))
		if err != nil {
			b.discard()
			return nil, err
		}
		return &reply{mirror: m, body: b, size: resp.ContentLength, total: total}, nil
	case resp.StatusCode == http.StatusPartialContent && resuming:
		first, total, err := contentRangeFrom(resp.Header.Get("Content-Range"))
		if err != nil {
			b.discard()
			return nil, err
		}
		return &reply{mirror: m, body: b, size: resp.ContentLength, total: total, offset: first,
			etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
	case resp.StatusCode == http.StatusNotModified && (cd.etag != "" || cd.lastModified != ""):
		b.discard()
		r := &reply{mirror: m, size: -1, notModified: true,
			etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
		// A 304 need not repeat the validators; the old ones still hold.
		if r.etag == "" {
			r.etag = cd.etag
		}
		if r.lastModified == "" {
			r.lastModified = cd.lastModified
		}
		return r, nil
	default:
		b.discard()
		return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
}

// openLean is openHTTP for a plain GET on the lean path; errLeanSkip
// means the response needs net/http.
func (c *Client) openLean(ctx context.Context, m *mirror, p string) (*reply, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	lr, err := c.lean.get(rctx, m.addr, m.u.Host, m.escaped(p), m.leanHeader, c.headerTO)
	if err != nil {
		cancel(nil)
		if ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &timeoutError{what: "no response headers", after: c.headerTO}
		}
		return nil, err
	}
	b := newBody(lr.body, lr.size, rctx, cancel, c.idleTO, &c.bytes)
	if lr.code == http.StatusOK {
		return &reply{mirror: m, body: b, size: lr.size, total: -1, etag: lr.etag, lastModified: lr.modified}, nil
	}
	b.discard()
	return nil, &StatusError{Code: lr.code, Status: lr.status, RetryAfter: parseRetryAfter(lr.retryAfter, time.Now())}
}

// contentRangeTotal reads the complete length from "bytes 0-N/TOTAL" of a
// response to a range request starting at 0.
func contentRangeTotal(v string) (int64, error) {
	var first, last, total int64
	if _, err := fmt.Sscanf(v, "bytes %d-%d/%d", &first, &last, &total); err != nil || first != 0 || last < first || total <= last {
		return -1, fmt.Errorf("bad Content-Range %q", v)
	}
	return total, nil
}

// contentRangeFrom reads where the body starts and the file's whole
// length from "bytes FIRST-LAST/TOTAL".
func contentRangeFrom(v string) (first, total int64, err error) {
	var last int64
	if _, err := fmt.Sscanf(v, "bytes %d-%d/%d", &first, &last, &total); err != nil || first < 0 || last < first || total <= last {
		return 0, -1, fmt.Errorf("bad Content-Range %q", v)
	}
	return first, total, nil
}

// StatusError is an HTTP response that was neither 200 nor an expected 304.
type StatusError struct {
	Code       int
	Status     string        // e.g. "500 Internal Server Error"
	RetryAfter time.Duration // from a Retry-After header, or 0
}

func (e *StatusError) Error() string {
	if e.Status == "" {
		return "HTTP " + strconv.Itoa(e.Code)
	}
	return "HTTP " + e.Status
}

// Is makes 403, 404 and 410 match ErrNotFound, as in ostree.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && (e.Code == http.StatusNotFound || e.Code == http.StatusForbidden || e.Code == http.StatusGone)
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// timeoutError is one of our own deadlines expiring. It satisfies net.Error
// so callers can test Timeout() as for any network timeout.
type timeoutError struct {
	what  string
	after time.Duration
}

func (e *timeoutError) Error() string   { return fmt.Sprintf("%s for %v", e.what, e.after) }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// retryable reports whether err is worth another try on the same mirror.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooLarge) {
		return false
	}
	var te *timeoutError
	if errors.As(err, &te) ||
		errors.Is(err, ErrTruncated) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || // connection closed before a response
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary // not "no such host"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// Other socket-level failures (unreachable network, ...) may pass;
	// TLS verification or protocol errors will not, and are not OpErrors.
	var op *net.OpError
	return errors.As(err, &op)
}
