package httpc

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

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
