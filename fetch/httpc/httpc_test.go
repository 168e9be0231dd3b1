package httpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const objPath = "objects/ab/cdef0123.filez"

// payload is distinct per byte position so a misplaced chunk shows.
var payload = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// server is an httptest server that numbers requests and counts
// connections.
type server struct {
	*httptest.Server
	hits  atomic.Int64
	conns atomic.Int64
}

// serve starts a loopback server; h gets the 1-based request number.
func serve(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(s.hits.Add(1), w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// testOptions keeps every timeout small so failures are quick.
func testOptions(mirrors ...string) Options {
	return Options{
		Mirrors:        mirrors,
		Attempts:       3,
		Backoff:        time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
		ConnectTimeout: time.Second,
		HeaderTimeout:  time.Second,
		IdleTimeout:    150 * time.Millisecond,
		UserAgent:      "arbor-test",
	}
}

func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// Handlers for fault injection.

func ok(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
	w.Write(payload)
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "injected", code) }
}

// dropMidBody promises the whole payload, sends part of it, and closes the
// connection.
func dropMidBody(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
	buf.Write(payload[:1000])
	buf.Flush()
	conn.Close()
}

// dropBeforeHeaders closes the connection without answering.
func dropBeforeHeaders(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// shortBody declares a Content-Length larger than what it sends; net/http
// then ends the connection.
// halfUnlessRanged sends half the payload to a plain GET and closes the
// connection, and answers a range request properly: a client must resume.
func halfUnlessRanged(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Range") == "" {
		shortBody(w, r)
		return
	}
	w.Header().Set("ETag", `"v1"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(payload))
}

// ignoresRange cuts the first answer short and sends the whole payload
// to every later request, range or not.
func ignoresRange(n int64, w http.ResponseWriter, r *http.Request) {
	if n == 1 {
		shortBody(w, r)
		return
	}
	ok(w, r)
}

func shortBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
	w.Write(payload[:len(payload)/2])
}

// stall sends the headers and some data, then goes silent until the client
// gives up.
func stall(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
	w.Write(payload[:100])
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// slowHeaders answers only after the client's header timeout.
func slowHeaders(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
		return
	case <-time.After(10 * time.Second):
	}
	ok(w, r)
}

// chunked sends the payload without a Content-Length.
func chunked(w http.ResponseWriter, r *http.Request) {
	w.Write(payload[:10])
	w.(http.Flusher).Flush()
	w.Write(payload[10:])
}

// firstN uses bad for the first n requests and ok afterwards.
func firstN(n int64, bad func(http.ResponseWriter, *http.Request)) func(int64, http.ResponseWriter, *http.Request) {
	return func(i int64, w http.ResponseWriter, r *http.Request) {
		if i <= n {
			bad(w, r)
			return
		}
		ok(w, r)
	}
}

func always(h func(http.ResponseWriter, *http.Request)) func(int64, http.ResponseWriter, *http.Request) {
	return func(_ int64, w http.ResponseWriter, r *http.Request) { h(w, r) }
}

func TestGetFaults(t *testing.T) {
	big := int64(len(payload))
	tests := []struct {
		name        string
		handler     func(int64, http.ResponseWriter, *http.Request)
		opts        func(*Options)
		max         int64
		wantHits    int64
		wantRetries int64
		wantErr     error // nil: success with payload; else errors.Is target
		wantTimeout bool  // error must be a Timeout() net.Error
	}{
		{name: "ok", handler: always(ok), max: big, wantHits: 1},
		{name: "exactly max", handler: always(ok), max: big, wantHits: 1},
		{name: "chunked", handler: always(chunked), max: big, wantHits: 1},
		{name: "500 twice then 200", handler: firstN(2, status(500)), max: big, wantHits: 3, wantRetries: 2},
		{name: "503 then 200", handler: firstN(1, status(503)), max: big, wantHits: 2, wantRetries: 1},
		{name: "429 then 200", handler: firstN(1, status(429)), max: big, wantHits: 2, wantRetries: 1},
		{name: "408 then 200", handler: firstN(1, status(408)), max: big, wantHits: 2, wantRetries: 1},
		{name: "persistent 500", handler: always(status(500)), max: big, wantHits: 3, wantRetries: 2,
			wantErr: &StatusError{Code: 500}},
		{name: "dropped mid-body then ok", handler: firstN(1, dropMidBody), max: big, wantHits: 2, wantRetries: 1},
		{name: "dropped before headers then ok", handler: firstN(2, dropBeforeHeaders), max: big, wantHits: 3, wantRetries: 2},
		{name: "always dropped mid-body", handler: always(dropMidBody), max: big, wantHits: 3, wantRetries: 2,
			wantErr: ErrTruncated},
		{name: "short body then ok", handler: firstN(1, shortBody), max: big, wantHits: 2, wantRetries: 1},
		{name: "short body resumed with a range", handler: always(halfUnlessRanged), max: big, wantHits: 2, wantRetries: 1},
		{name: "always short body", handler: always(shortBody), max: big, wantHits: 3, wantRetries: 2,
			wantErr: ErrTruncated},
		{name: "stalled body", handler: always(stall), max: big, wantHits: 3, wantRetries: 2,
			wantTimeout: true},
		{name: "stalled then ok", handler: firstN(1, stall), max: big, wantHits: 2, wantRetries: 1},
		{name: "slow headers", handler: always(slowHeaders), max: big, wantHits: 2, wantRetries: 1,
			opts:        func(o *Options) { o.Attempts, o.HeaderTimeout = 2, 100*time.Millisecond },
			wantTimeout: true},
		{name: "404 not retried", handler: always(status(404)), max: big, wantHits: 1, wantErr: ErrNotFound},
		{name: "403 is not found", handler: always(status(403)), max: big, wantHits: 1, wantErr: ErrNotFound},
		{name: "401 not retried", handler: always(status(401)), max: big, wantHits: 1, wantErr: &StatusError{Code: 401}},
		{name: "too large by Content-Length", handler: always(ok), max: big - 1, wantHits: 1, wantErr: ErrTooLarge},
		{name: "too large chunked", handler: always(chunked), max: big - 1, wantHits: 1, wantErr: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.handler)
			o := testOptions(s.URL + "/repo")
			if tc.opts != nil {
				tc.opts(&o)
			}
			c := newClient(t, o)
			// A generous outer deadline turns a broken timeout into a
			// failure below instead of a hung test; no duration is asserted.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := c.Get(ctx, objPath, tc.max)

			switch {
			case tc.wantErr == nil && !tc.wantTimeout:
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !bytes.Equal(got, payload) {
					t.Fatalf("Get returned %d bytes, not the payload", len(got))
				}
			case err == nil:
				t.Fatalf("Get succeeded, want error")
			default:
				if tc.wantErr != nil {
					var se *StatusError
					if want, ok := tc.wantErr.(*StatusError); ok {
						if !errors.As(err, &se) || se.Code != want.Code {
							t.Errorf("error %v, want HTTP %d", err, want.Code)
						}
					} else if !errors.Is(err, tc.wantErr) {
						t.Errorf("error %v, want %v", err, tc.wantErr)
					}
				}
				var ne net.Error
				if tc.wantTimeout && (!errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, context.DeadlineExceeded)) {
					t.Errorf("error %v is not the client's own timeout", err)
				}
				// The error must say what failed and where.
				for _, want := range []string{objPath, s.URL + "/repo/"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			}
			if h := s.hits.Load(); h != tc.wantHits {
				t.Errorf("server saw %d requests, want %d", h, tc.wantHits)
			}
			st := c.Stats()
			if st.Requests != tc.wantHits || st.Retries != tc.wantRetries {
				t.Errorf("Stats = %+v, want %d requests, %d retries", st, tc.wantHits, tc.wantRetries)
			}
		})
	}
}

// deadURL is a loopback address nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/repo"
}

func TestMirrors(t *testing.T) {
	type mirrorSpec struct {
		handler  func(int64, http.ResponseWriter, *http.Request) // nil: dead port
		wantHits int64
	}
	tests := []struct {
		name         string
		mirrors      []mirrorSpec
		wantErr      error // nil: success
		wantNotFound bool
		wantInErr    int // index of the mirror the error must name
	}{
		{name: "404 then 200", mirrors: []mirrorSpec{{always(status(404)), 1}, {always(ok), 1}}},
		{name: "dead then good", mirrors: []mirrorSpec{{nil, 0}, {always(ok), 1}}},
		{name: "500 then 200", mirrors: []mirrorSpec{{always(status(500)), 3}, {always(ok), 1}}},
		{name: "dropped then 200", mirrors: []mirrorSpec{{always(dropMidBody), 3}, {always(ok), 1}}},
		{name: "all 404", mirrors: []mirrorSpec{{always(status(404)), 1}, {always(status(410)), 1}},
			wantErr: ErrNotFound, wantNotFound: true, wantInErr: 1},
		// A mirror that answers 404 is an answer; one that fails is not.
		{name: "404 then 500 is not-found", mirrors: []mirrorSpec{{always(status(404)), 1}, {always(status(500)), 3}},
			wantErr: ErrNotFound, wantNotFound: true, wantInErr: 0},
		{name: "500 then 404 is not-found", mirrors: []mirrorSpec{{always(status(500)), 3}, {always(status(404)), 1}},
			wantErr: ErrNotFound, wantNotFound: true, wantInErr: 1},
		{name: "dead then 404 is not-found", mirrors: []mirrorSpec{{nil, 0}, {always(status(404)), 1}},
			wantErr: ErrNotFound, wantNotFound: true, wantInErr: 1},
		{name: "all dead", mirrors: []mirrorSpec{{nil, 0}, {nil, 0}},
			wantErr: errors.New("any"), wantInErr: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var urls []string
			var srvs []*server
			for _, m := range tc.mirrors {
				if m.handler == nil {
					urls = append(urls, deadURL(t))
					srvs = append(srvs, nil)
					continue
				}
				s := serve(t, m.handler)
				urls = append(urls, s.URL+"/repo")
				srvs = append(srvs, s)
			}
			c := newClient(t, testOptions(urls...))
			got, err := c.Get(context.Background(), objPath, 1<<20)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !bytes.Equal(got, payload) {
					t.Fatal("wrong body")
				}
			} else {
				if err == nil {
					t.Fatal("Get succeeded, want error")
				}
				if errors.Is(err, ErrNotFound) != tc.wantNotFound {
					t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, !tc.wantNotFound, tc.wantNotFound)
				}
				if want, ok := tc.wantErr.(*StatusError); ok {
					var se *StatusError
					if !errors.As(err, &se) || se.Code != want.Code {
						t.Errorf("error %v, want HTTP %d", err, want.Code)
					}
				}
				for _, want := range []string{objPath, urls[tc.wantInErr] + "/"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			}
			for i, s := range srvs {
				if s != nil && s.hits.Load() != tc.mirrors[i].wantHits {
					t.Errorf("mirror %d saw %d requests, want %d", i, s.hits.Load(), tc.mirrors[i].wantHits)
				}
			}
		})
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name        string
		handler     func(int64, http.ResponseWriter, *http.Request)
		wantSize    int64
		wantOpenErr error // from Open itself
		wantReadErr error // from reading the body
		wantTimeout bool
		wantHits    int64
	}{
		{name: "ok", handler: always(ok), wantSize: int64(len(payload)), wantHits: 1},
		{name: "chunked size unknown", handler: always(chunked), wantSize: -1, wantHits: 1},
		{name: "headers retried", handler: firstN(2, status(502)), wantSize: int64(len(payload)), wantHits: 3},
		{name: "404", handler: always(status(404)), wantOpenErr: ErrNotFound, wantHits: 1},
		// Once streaming, a short body is resumed up to the attempts, then
		// is the caller's error, not io.EOF.
		{name: "short body", handler: always(shortBody), wantSize: int64(len(payload)), wantReadErr: ErrTruncated, wantHits: 3},
		{name: "dropped", handler: always(dropMidBody), wantSize: int64(len(payload)), wantReadErr: ErrTruncated, wantHits: 3},
		{name: "resumed with a range", handler: always(halfUnlessRanged), wantSize: int64(len(payload)), wantHits: 2},
		{name: "resumed, range ignored", handler: ignoresRange, wantSize: int64(len(payload)), wantHits: 2},
		{name: "stalled", handler: always(stall), wantSize: int64(len(payload)), wantTimeout: true, wantHits: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.handler)
			c := newClient(t, testOptions(s.URL))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rc, size, err := c.Open(ctx, objPath)
			if tc.wantOpenErr != nil {
				if !errors.Is(err, tc.wantOpenErr) {
					t.Fatalf("Open error %v, want %v", err, tc.wantOpenErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			if size != tc.wantSize {
				t.Errorf("size %d, want %d", size, tc.wantSize)
			}
			got, err := io.ReadAll(rc)
			switch {
			case tc.wantReadErr == nil && !tc.wantTimeout:
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("read %d bytes, err %v; want the payload", len(got), err)
				}
			case err == nil:
				t.Fatalf("read %d bytes without error, want an error", len(got))
			default:
				if tc.wantReadErr != nil && !errors.Is(err, tc.wantReadErr) {
					t.Errorf("read error %v, want %v", err, tc.wantReadErr)
				}
				var ne net.Error
				if tc.wantTimeout {
					if !errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("read error %v is not the client's idle timeout", err)
					}
				}
				if !strings.Contains(err.Error(), objPath) {
					t.Errorf("read error %q does not name the path", err)
				}
			}
			if h := s.hits.Load(); h != tc.wantHits {
				t.Errorf("server saw %d requests, want %d", h, tc.wantHits)
			}
		})
	}
}

func TestGetConditional(t *testing.T) {
	const etag = `"v1"`
	mod := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	modStr := mod.Format(http.TimeFormat)
	s := serve(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		// ServeContent implements If-None-Match / If-Modified-Since like
		// any static file server.
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "summary", mod, bytes.NewReader(payload))
	})
	c := newClient(t, testOptions(s.URL))
	tests := []struct {
		name, etag, lastModified string
		wantNotModified          bool
	}{
		{name: "unconditional", wantNotModified: false},
		{name: "matching etag", etag: etag, wantNotModified: true},
		{name: "stale etag", etag: `"v0"`, wantNotModified: false},
		{name: "same mtime", lastModified: modStr, wantNotModified: true},
		{name: "older mtime", lastModified: mod.Add(-time.Hour).Format(http.TimeFormat), wantNotModified: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, newEtag, newLM, notMod, err := c.GetConditional(context.Background(), "summary", tc.etag, tc.lastModified, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if notMod != tc.wantNotModified {
				t.Fatalf("notModified = %v, want %v", notMod, tc.wantNotModified)
			}
			if notMod && body != nil {
				t.Errorf("304 returned a %d-byte body", len(body))
			}
			if !notMod && !bytes.Equal(body, payload) {
				t.Errorf("body of %d bytes is not the payload", len(body))
			}
			if newEtag != etag {
				t.Errorf("etag %q, want %q", newEtag, etag)
			}
			if !notMod && newLM != modStr {
				t.Errorf("Last-Modified %q, want %q", newLM, modStr)
			}
		})
	}
	// A bare 304 (no validators echoed) keeps the caller's.
	bare := serve(t, func(_ int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	c2 := newClient(t, testOptions(bare.URL))
	_, e, lm, notMod, err := c2.GetConditional(context.Background(), "summary", etag, modStr, 100)
	if err != nil || !notMod || e != etag || lm != modStr {
		t.Errorf("bare 304: got (%q, %q, %v, %v), want the old validators", e, lm, notMod, err)
	}
	// An unsolicited 304 is not success.
	if _, err := c2.Get(context.Background(), "summary", 100); err == nil {
		t.Error("unconditional Get accepted a 304")
	}
}

func TestFileMirror(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "objects", "ab"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(objPath)), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	good := serve(t, always(ok))
	tests := []struct {
		name    string
		mirrors []string
		path    string
		max     int64
		wantErr error
	}{
		{name: "read", mirrors: []string{"file://" + dir}, path: objPath, max: 1 << 20},
		{name: "localhost form", mirrors: []string{"file://localhost" + dir + "/"}, path: objPath, max: 1 << 20},
		{name: "missing", mirrors: []string{"file://" + dir}, path: "objects/ab/missing.filez", max: 1 << 20, wantErr: ErrNotFound},
		{name: "under a file", mirrors: []string{"file://" + dir}, path: objPath + "/x", max: 1 << 20, wantErr: ErrNotFound},
		{name: "directory", mirrors: []string{"file://" + dir}, path: "objects", max: 1 << 20, wantErr: errors.New("not regular")},
		{name: "too large", mirrors: []string{"file://" + dir}, path: objPath, max: 10, wantErr: ErrTooLarge},
		{name: "missing locally, then http", mirrors: []string{"file://" + dir, good.URL}, path: "objects/ab/missing.filez", max: 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, testOptions(tc.mirrors...))
			got, err := c.Get(context.Background(), tc.path, tc.max)
			if tc.wantErr == nil {
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("Get = %d bytes, %v; want the payload", len(got), err)
				}
				if st := c.Stats(); st.Bytes != int64(len(payload)) {
					t.Errorf("Stats.Bytes = %d, want %d", st.Bytes, len(payload))
				}
				return
			}
			if err == nil {
				t.Fatal("Get succeeded, want error")
			}
			if errors.Is(err, ErrNotFound) != errors.Is(tc.wantErr, ErrNotFound) || errors.Is(err, ErrTooLarge) != errors.Is(tc.wantErr, ErrTooLarge) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the path", err)
			}
		})
	}
	c := newClient(t, testOptions("file://"+dir))
	rc, size, err := c.Open(context.Background(), objPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || size != int64(len(payload)) || !bytes.Equal(got, payload) {
		t.Errorf("Open: size %d, %d bytes, %v", size, len(got), err)
	}
	// Local files are always re-read, never "not modified".
	body, _, _, notMod, err := c.GetConditional(context.Background(), objPath, `"x"`, time.Now().Format(http.TimeFormat), 1<<20)
	if err != nil || notMod || !bytes.Equal(body, payload) {
		t.Errorf("GetConditional on file: %d bytes, notModified %v, %v", len(body), notMod, err)
	}
}

func TestPathValidation(t *testing.T) {
	s := serve(t, always(ok))
	c := newClient(t, testOptions(s.URL))
	tests := []struct {
		path    string
		wantErr bool
	}{
		{objPath, false},
		{"refs/heads/os/x86_64-stable+1", false},
		{"summary", false},
		{"", true},
		{"/etc/passwd", true},
		{"..", true},
		{"../config", true},
		{"objects/../../config", true},
		{"objects/..", true},
		{"./summary", true},
		{"objects//ab", true},
		{"objects/", true},
		{"sum\x00mary", true},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.path), func(t *testing.T) {
			before := s.hits.Load()
			ctx := context.Background()
			_, errGet := c.Get(ctx, tc.path, 1<<20)
			_, _, _, _, errCond := c.GetConditional(ctx, tc.path, "", "", 1<<20)
			rc, _, errOpen := c.Open(ctx, tc.path)
			if rc != nil {
				rc.Close()
			}
			for name, err := range map[string]error{"Get": errGet, "GetConditional": errCond, "Open": errOpen} {
				if got := errors.Is(err, ErrInvalidPath); got != tc.wantErr {
					t.Errorf("%s: error %v, want invalid path: %v", name, err, tc.wantErr)
				}
			}
			if hits := s.hits.Load() - before; tc.wantErr && hits != 0 {
				t.Errorf("invalid path reached the server %d times", hits)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		mirrors []string
		wantErr string // substring; "" for success
		wantURL string // first mirror after normalisation
	}{
		{name: "none", wantErr: "no mirror"},
		{name: "http", mirrors: []string{"http://example.com/repo"}, wantURL: "http://example.com/repo/"},
		{name: "https slash kept", mirrors: []string{"https://example.com/repo/"}, wantURL: "https://example.com/repo/"},
		{name: "host only", mirrors: []string{"http://example.com"}, wantURL: "http://example.com/"},
		{name: "file", mirrors: []string{"file:///srv/repo"}, wantURL: "file:///srv/repo/"},
		{name: "password redacted", mirrors: []string{"https://u:secret@example.com/r"}, wantURL: "https://u:xxxxx@example.com/r/"},
		{name: "ftp", mirrors: []string{"ftp://example.com/repo"}, wantErr: "Invalid URI scheme"},
		{name: "relative", mirrors: []string{"srv/repo"}, wantErr: "not absolute"},
		{name: "mirrorlist among others", mirrors: []string{"mirrorlist=http://example.com/list", "http://example.com/r"}, wantErr: "must be the only one"},
		{name: "metalink among others", mirrors: []string{"metalink=http://example.com/m.xml", "http://example.com/r"}, wantErr: "must be the only one"},
		{name: "no host", mirrors: []string{"http:///repo"}, wantErr: "no host"},
		{name: "remote file", mirrors: []string{"file://otherhost/repo"}, wantErr: "another host"},
		{name: "query", mirrors: []string{"http://example.com/repo?x=1"}, wantErr: "query"},
		{name: "second bad", mirrors: []string{"http://example.com/", "gopher://x/"}, wantErr: "gopher"},
		{name: "unparsable", mirrors: []string{"http://[::1"}, wantErr: "mirror URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Options{Mirrors: tc.mirrors})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(fmt.Sprint(err), "secret") {
					t.Errorf("error leaks a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.mirrors[0].name; got != tc.wantURL {
				t.Errorf("mirror %q, want %q", got, tc.wantURL)
			}
		})
	}
}

func TestConnectionReuse(t *testing.T) {
	tests := []struct {
		name     string
		handler  func(int64, http.ResponseWriter, *http.Request)
		wantBody bool
	}{
		{name: "200", handler: always(ok), wantBody: true},
		{name: "chunked", handler: always(chunked), wantBody: true},
		// Error pages are drained so they do not cost a connection each.
		{name: "404", handler: always(status(404))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.handler)
			c := newClient(t, testOptions(s.URL))
			const n = 50
			for i := range n {
				_, err := c.Get(context.Background(), objPath, 1<<20)
				if (err == nil) != tc.wantBody {
					t.Fatalf("Get %d: %v", i, err)
				}
			}
			if conns := s.conns.Load(); conns > 2 {
				t.Errorf("%d sequential Gets opened %d connections, want at most 2", n, conns)
			}
			st := c.Stats()
			if st.Requests != n {
				t.Errorf("Stats.Requests = %d, want %d", st.Requests, n)
			}
			if tc.wantBody && st.Bytes != n*int64(len(payload)) {
				t.Errorf("Stats.Bytes = %d, want %d", st.Bytes, n*len(payload))
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	tests := []struct {
		name    string
		handler func(int64, http.ResponseWriter, *http.Request)
		opts    func(*Options)
	}{
		{name: "during backoff", handler: always(status(500)),
			opts: func(o *Options) { o.Backoff, o.MaxBackoff = 10*time.Second, 10*time.Second }},
		{name: "waiting for headers", handler: always(slowHeaders),
			opts: func(o *Options) { o.HeaderTimeout = 10 * time.Second }},
		{name: "reading body", handler: always(stall),
			opts: func(o *Options) { o.IdleTimeout = 10 * time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.handler)
			o := testOptions(s.URL)
			tc.opts(&o)
			c := newClient(t, o)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := c.Get(ctx, objPath, 1<<20)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestUserAgentAndURL(t *testing.T) {
	var gotUA, gotPath, gotAE string
	s := serve(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		gotUA, gotPath, gotAE = r.UserAgent(), r.URL.EscapedPath(), r.Header.Get("Accept-Encoding")
		ok(w, r)
	})
	c := newClient(t, testOptions(s.URL+"/my%20repo"))
	if _, err := c.Get(context.Background(), "refs/heads/a b+c", 1<<20); err != nil {
		t.Fatal(err)
	}
	if gotUA != "arbor-test" {
		t.Errorf("User-Agent %q", gotUA)
	}
	if want := "/my%20repo/refs/heads/a%20b+c"; gotPath != want {
		t.Errorf("requested %q, want %q", gotPath, want)
	}
	// Transparent gzip would hide the real Content-Length.
	if gotAE != "" {
		t.Errorf("sent Accept-Encoding %q, want none", gotAE)
	}
}

// TestHeaderTimeoutExcludesQueue: waiting for a free connection slot (our
// own concurrency limit) must not count as the server being slow.
func TestHeaderTimeoutExcludesQueue(t *testing.T) {
	s := serve(t, always(ok))
	o := testOptions(s.URL)
	o.MaxConnsPerHost, o.HeaderTimeout = 1, 100*time.Millisecond
	c := newClient(t, o)
	rc, _, err := c.Open(context.Background(), objPath) // holds the only connection
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), objPath, 1<<20)
		done <- err
	}()
	time.Sleep(3 * o.HeaderTimeout)
	io.Copy(io.Discard, rc)
	rc.Close()
	if err := <-done; err != nil {
		t.Fatalf("queued Get failed: %v", err)
	}
	if st := c.Stats(); st.Retries != 0 {
		t.Errorf("queued Get was retried %d times", st.Retries)
	}
}

func TestRetryDelay(t *testing.T) {
	c := &Client{backoff: 100 * time.Millisecond, maxBackoff: time.Second}
	tests := []struct {
		attempt  int
		err      error
		min, max time.Duration
	}{
		{1, io.ErrUnexpectedEOF, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, io.ErrUnexpectedEOF, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, io.ErrUnexpectedEOF, 200 * time.Millisecond, 400 * time.Millisecond},
		{10, io.ErrUnexpectedEOF, 500 * time.Millisecond, time.Second}, // capped
		{1, &StatusError{Code: 503, RetryAfter: 700 * time.Millisecond}, 700 * time.Millisecond, 700 * time.Millisecond},
		{1, &StatusError{Code: 503, RetryAfter: time.Hour}, time.Second, time.Second}, // Retry-After capped
	}
	for _, tc := range tests {
		for range 20 {
			if d := c.delay(tc.attempt, tc.err); d < tc.min || d > tc.max {
				t.Errorf("delay(%d, %v) = %v, want in [%v, %v]", tc.attempt, tc.err, d, tc.min, tc.max)
			}
		}
	}
}

// GetPrefix asks for a range; a server that ignores it sends the whole
// file, which is kept whole (complete) up to maxIgnoredRange rather than
// thrown away after n bytes.
func TestGetPrefix(t *testing.T) {
	small := strings.Repeat("s", 100)
	big := strings.Repeat("b", 1<<20)
	huge := strings.Repeat("h", maxIgnoredRange+1)
	cases := []struct {
		name         string
		file         string
		honourRange  bool
		wantLen      int
		wantComplete bool
	}{
		{"a range of a big file", big, true, 10, false},
		{"a file shorter than the range, whole", "tiny", true, 4, true},
		{"a big file whole, the range ignored", big, false, 1 << 20, true},
		{"a huge file, the range ignored: the prefix", huge, false, 10, false},
		{"a small file, the range ignored", small, false, 100, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reqs atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reqs.Add(1)
				if !tc.honourRange {
					r.Header.Del("Range")
				}
				http.ServeContent(w, r, "f", time.Time{}, strings.NewReader(tc.file))
			}))
			defer srv.Close()
			c := newClient(t, testOptions(srv.URL))
			b, complete, err := c.GetPrefix(context.Background(), "f", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.wantLen || complete != tc.wantComplete || string(b) != tc.file[:len(b)] {
				t.Errorf("got %d bytes, complete %v; want %d, %v", len(b), complete, tc.wantLen, tc.wantComplete)
			}
			if n := reqs.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestContentRangeFrom(t *testing.T) {
	tests := []struct {
		v            string
		first, total int64
		bad          bool
	}{
		{v: "bytes 100-199/200", first: 100, total: 200},
		{v: "bytes 0-0/1", first: 0, total: 1},
		{v: "bytes 100-99/200", bad: true},
		{v: "bytes 100-200/200", bad: true},
		{v: "bytes */200", bad: true},
		{v: "", bad: true},
	}
	for _, tc := range tests {
		first, total, err := contentRangeFrom(tc.v)
		if tc.bad != (err != nil) || !tc.bad && (first != tc.first || total != tc.total) {
			t.Errorf("%q: %d, %d, %v", tc.v, first, total, err)
		}
	}
}

// TestOpenFailedResumeIsSticky: a body whose resume fails keeps failing;
// it never ends in a clean EOF that would pass a short file off as whole.
func TestOpenFailedResumeIsSticky(t *testing.T) {
	s := serve(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			shortBody(w, r)
			return
		}
		http.NotFound(w, r)
	})
	c := newClient(t, testOptions(s.URL))
	rc, _, err := c.Open(context.Background(), objPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read error %v, want the resume's not found", err)
	}
	if n, err := rc.Read(make([]byte, 10)); n != 0 || err == nil || err == io.EOF {
		t.Fatalf("read after a failed resume: %d, %v", n, err)
	}
}
