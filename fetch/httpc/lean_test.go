package httpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arbor/tests/testutil"
)

// rawServer accepts connections on loopback and hands each to handle with
// its number (from 1); it counts the requests handle reads with readReq.
type rawServer struct {
	addr  string
	conns atomic.Int64
	reqs  atomic.Int64
}

func serveRaw(t *testing.T, handle func(s *rawServer, n int64, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	s := &rawServer{}
	s.addr = testutil.ServeTCP(t, func(c net.Conn) {
		handle(s, s.conns.Add(1), c, bufio.NewReader(c))
	})
	return s
}

func (s *rawServer) url() string { return "http://" + s.addr + "/repo" }

// readReq reads one request head; false when the client is gone.
func (s *rawServer) readReq(br *bufio.Reader) (string, bool) {
	first := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", false
		}
		if first == "" {
			first = line
		}
		if line == "\r\n" {
			s.reqs.Add(1)
			return first, true
		}
	}
}

// answerOnce serves one request per connection with resp, then closes.
func answerOnce(resp string) func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
	return func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
		if _, ok := s.readReq(br); ok {
			c.Write([]byte(resp))
		}
	}
}

func TestLean(t *testing.T) {
	cases := []struct {
		name string
		// handle serves one connection.
		handle    func(s *rawServer, n int64, c net.Conn, br *bufio.Reader)
		gets      int
		first404  bool   // each get is preceded by one answered 404
		want      string // every body
		wantConns int64
		wantReqs  int64
	}{
		{
			// A kept-alive connection the server dropped meanwhile: sent
			// again on a new one, not counted as a failure.
			name:   "server closes after each response",
			handle: answerOnce("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
			gets:   3, want: "hello", wantConns: 3, wantReqs: 3,
		},
		{
			name: "Connection: close is obeyed",
			handle: func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
				if _, ok := s.readReq(br); ok {
					c.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"))
				}
				// Say nothing more; a client that sent another request here
				// would wait for its header timeout.
				s.readReq(br)
			},
			gets: 3, want: "hello", wantConns: 3, wantReqs: 3,
		},
		{
			name: "chunked with extensions and trailers, kept alive",
			handle: func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
				for {
					if _, ok := s.readReq(br); !ok {
						return
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
						"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n"))
				}
			},
			gets: 3, want: "hello", wantConns: 1, wantReqs: 3,
		},
		{
			name: "a 404 keeps the connection",
			handle: func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
				for i := 0; ; i++ {
					if _, ok := s.readReq(br); !ok {
						return
					}
					if i%2 == 0 {
						c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"))
					} else {
						c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
					}
				}
			},
			gets: 2, first404: true, want: "hello", wantConns: 1, wantReqs: 4,
		},
		{
			// Not what the lean path reads: net/http asks again, and
			// from then on net/http alone asks this server.
			name:   "HTTP/1.0 goes to net/http",
			handle: answerOnce("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
			gets:   3, want: "hello", wantConns: 4, wantReqs: 4,
		},
		{
			name:   "no Content-Length goes to net/http",
			handle: answerOnce("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello"),
			gets:   3, want: "hello", wantConns: 4, wantReqs: 4,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := serveRaw(t, tc.handle)
			c := newClient(t, testOptions(s.url()))
			for i := 0; i < tc.gets; i++ {
				if tc.first404 {
					if _, err := c.Get(context.Background(), "x", 1<<20); !errors.Is(err, ErrNotFound) {
						t.Fatalf("get %d: %v, want not found", i, err)
					}
				}
				b, err := c.Get(context.Background(), "x", 1<<20)
				if err != nil {
					t.Fatalf("get %d: %v", i, err)
				}
				if string(b) != tc.want {
					t.Fatalf("get %d: body %q, want %q", i, b, tc.want)
				}
			}
			if got := s.reqs.Load(); got != tc.wantReqs {
				t.Errorf("server read %d requests, want %d", got, tc.wantReqs)
			}
			if got := c.Stats().Retries; got != 0 {
				t.Errorf("%d retries, want none", got)
			}
			if got := s.conns.Load(); got != tc.wantConns {
				t.Errorf("%d connections, want %d", got, tc.wantConns)
			}
		})
	}
}

// A body cut short on the lean path is ErrTruncated, retried, and the
// connection is not reused.
func TestLeanTruncated(t *testing.T) {
	s := serveRaw(t, func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
		if _, ok := s.readReq(br); !ok {
			return
		}
		if n == 1 {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"))
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhelloworld"))
	})
	c := newClient(t, testOptions(s.url()))
	b, err := c.Get(context.Background(), "x", 1<<20)
	if err != nil || string(b) != "helloworld" {
		t.Fatalf("got %q, %v", b, err)
	}
	if got := c.Stats().Retries; got != 1 {
		t.Errorf("%d retries, want 1", got)
	}
}

func TestLeanEligible(t *testing.T) {
	for _, tc := range []struct {
		url, addr string
	}{
		{"http://mirror.invalid/repo", "mirror.invalid:80"},
		{"http://mirror.invalid:8080/repo", "mirror.invalid:8080"},
		{"http://[::1]:8080/repo", "[::1]:8080"},
		{"https://mirror.invalid/repo", ""},
		{"http://user:secret@mirror.invalid/repo", ""},
	} {
		c, err := New(Options{Mirrors: []string{tc.url}})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.mirrors[0].addr; got != tc.addr {
			t.Errorf("%s: lean address %q, want %q", tc.url, got, tc.addr)
		}
	}
	c, err := New(Options{Mirrors: []string{"http://mirror.invalid/repo"}, Transport: http.DefaultTransport})
	if err != nil {
		t.Fatal(err)
	}
	if c.lean != nil {
		t.Error("a caller's Transport must carry every request")
	}
}

// Warm opens connections ahead of the requests that use them: requests
// sent while they are still opening wait for them rather than opening
// more, and none is opened beyond what was asked for.
func TestWarm(t *testing.T) {
	s := serveRaw(t, func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
		for {
			if _, ok := s.readReq(br); !ok {
				return
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}
	})
	c, err := New(Options{Mirrors: []string{s.url()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	c.Warm(3)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.Get(context.Background(), "f", 10)
			if err == nil && string(b) != "ok" {
				err = errors.New("body " + string(b))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.Warm(3) // three are open: none more
	for i := 0; i < 3; i++ {
		if _, err := c.Get(context.Background(), "f", 10); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want the 3 warmed", n)
	}
}

// serveNames answers each request on a connection, in order, with its
// path's last name, once hold(name) returns.
func serveNames(t *testing.T, hold func(name string)) *rawServer {
	return serveRaw(t, func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
		for {
			line, ok := s.readReq(br)
			if !ok {
				return
			}
			name := pathOf(line)
			hold(name)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name)
		}
	})
}

// getAll gets f0 to f(n-1) at once, each of which the server answers
// with its name.
func getAll(t *testing.T, c *Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("f%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.Get(context.Background(), name, 10)
			if err == nil && string(b) != name {
				err = fmt.Errorf("%s answered %q", name, b)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// pathOf is the path of a request line "GET /repo/NAME HTTP/1.1".
func pathOf(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return f[1][strings.LastIndex(f[1], "/")+1:]
}

// Once its connections are busy, the client pipelines: a server that
// answers only once it holds three requests on its one connection
// answers them all, in order, each with its own body. Without pipelining
// it would wait for the second request forever.
func TestLeanPipelines(t *testing.T) {
	s := serveRaw(t, func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
		for {
			var names []string
			for len(names) < 3 {
				line, ok := s.readReq(br)
				if !ok {
					return
				}
				names = append(names, pathOf(line))
			}
			for _, name := range names {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name)
			}
		}
	})
	o := testOptions(s.url())
	o.MaxConnsPerHost = 1
	c := newClient(t, o)
	getAll(t, c, 6)
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// A connection that ends under a pipeline, said (Connection: close) or
// not, leaves the requests behind unanswered: each is sent again on
// another connection, none is a failure. A server that breaks pipelines
// again and again is asked one request at a time from then on.
func TestLeanPipelineBreaks(t *testing.T) {
	for _, say := range []bool{true, false} {
		t.Run(fmt.Sprintf("connection close said %v", say), func(t *testing.T) {
			var sent atomic.Int64 // answers the server wrote
			s := serveRaw(t, func(s *rawServer, n int64, c net.Conn, br *bufio.Reader) {
				line, ok := s.readReq(br)
				if !ok {
					return
				}
				// What the client pipelined meanwhile is read, and left
				// unanswered: one answer a connection.
				c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				for {
					if _, ok := s.readReq(br); !ok {
						break
					}
				}
				hdr := ""
				if say {
					hdr = "Connection: close\r\n"
				}
				name := pathOf(line)
				sent.Add(1) // before the client can have it
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s", hdr, len(name), name)
			})
			o := testOptions(s.url())
			o.MaxConnsPerHost = 2
			c := newClient(t, o)
			getAll(t, c, 12)
			if r := c.Stats().Retries; r != 0 {
				t.Errorf("%d retries, want none: a request left unanswered is not a failure", r)
			}
			if sent.Load() != 12 {
				t.Errorf("%d answers, want 12", sent.Load())
			}
			c.lean.mu.Lock()
			breaks := c.lean.breaks[s.addr]
			c.lean.mu.Unlock()
			if say && breaks != 0 || !say && breaks < maxBreaks {
				t.Errorf("%d pipelines counted broken", breaks)
			}
		})
	}
}

// A pipelined request given up while it waits its turn does not stop
// the others: its answer is passed over, on a connection dropped then.
func TestLeanPipelineLeft(t *testing.T) {
	release := make(chan struct{})
	s := serveNames(t, func(name string) {
		if name == "slow" {
			<-release
		}
	})
	o := testOptions(s.url())
	o.MaxConnsPerHost = 1
	o.HeaderTimeout = 5 * time.Second
	c := newClient(t, o)
	done := make(chan error, 3)
	go func() { _, err := c.Get(context.Background(), "slow", 10); done <- err }()
	// Queued behind "slow" on the one connection.
	for c.queued() < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := c.Get(ctx, "given-up", 10); done <- err }()
	go func() {
		b, err := c.Get(context.Background(), "after", 10)
		if err == nil && string(b) != "after" {
			err = fmt.Errorf("%q", b)
		}
		done <- err
	}()
	for c.queued() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(release)
	var errs []error
	for i := 0; i < 3; i++ {
		errs = append(errs, <-done)
	}
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
			if !errors.Is(err, context.Canceled) {
				t.Errorf("unexpected: %v", err)
			}
		}
	}
	if n != 1 {
		t.Errorf("errors %v; want the one given up alone", errs)
	}
}

// A request waiting for room, every connection's pipeline full, stops
// waiting when its context ends; the others are answered.
func TestLeanWaitForRoomCancelled(t *testing.T) {
	release := make(chan struct{})
	s := serveNames(t, func(string) { <-release })
	o := testOptions(s.url())
	o.MaxConnsPerHost = 1
	o.HeaderTimeout = 5 * time.Second
	c := newClient(t, o)
	done := make(chan error, pipelineDepth)
	for i := 0; i < pipelineDepth; i++ {
		go func() { _, err := c.Get(context.Background(), fmt.Sprintf("f%d", i), 10); done <- err }()
	}
	for c.queued() < pipelineDepth {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "no-room", 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request with no room: %v, want its deadline", err)
	}
	close(release)
	for i := 0; i < pipelineDepth; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
