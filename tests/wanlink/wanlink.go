// Package wanlink emulates a wide area link between a client and a server
// on loopback, for the benchmark: a TCP proxy that delays every byte by
// half a round trip each way, makes a new connection wait one round trip
// before its first byte goes out (the handshake), and shares one
// bandwidth per direction among all connections, as a home link does.
// The kernel here has no netem; this is the same idea in user space.
//
// What it leaves out: TCP's slow start and losses. A real link is slower
// than this one for a fresh connection's first few hundred kilobytes, so
// figures measured here favour whoever opens many connections.
package wanlink

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Link is the link's shape.
type Link struct {
	RTT  time.Duration // round trip
	Rate int64         // bytes per second in each direction, shared by all connections
}

// String is the link as the benchmark names it: "50 ms, 100 Mbit/s".
func (l Link) String() string {
	return fmt.Sprintf("%d ms, %d Mbit/s", l.RTT.Milliseconds(), l.Rate*8/1e6)
}

// chunk is the most one read forwards at once: at 100 Mbit/s it holds the
// wire for 1.3 ms, fine enough for connections to share it.
const chunk = 16 << 10

// window bounds what a direction of one connection holds in flight, as a
// TCP window would: a slow reader stops the writer (8 MiB is more than
// the 625 KB a 50 ms, 100 Mbit/s link can hold).
const window = 8 << 20 / chunk

// wire is one direction of the bottleneck: frames go out one after
// another, each taking its size over the rate, and arrive half a round
// trip after they leave.
type wire struct {
	mu     sync.Mutex
	rate   int64
	oneWay time.Duration
	free   time.Time // when the wire is next idle
}

// schedule says when n bytes handed over at t arrive at the far side, and
// takes the wire for them. notBefore holds a new connection's first bytes
// back until its handshake is done.
func (w *wire) schedule(t, notBefore time.Time, n int) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := t
	if start.Before(notBefore) {
		start = notBefore
	}
	if start.Before(w.free) {
		start = w.free
	}
	end := start
	if w.rate > 0 {
		end = start.Add(time.Duration(int64(n) * int64(time.Second) / w.rate))
	}
	w.free = end
	return end.Add(w.oneWay)
}

// Stats is what crossed the link.
type Stats struct {
	Conns     int64 // connections opened
	BytesUp   int64 // client to server
	BytesDown int64 // server to client
	// RoundTrips counts the times the client waited on the link: a
	// connection's handshake, and each burst of client bytes that began
	// more than a round trip after the burst before it (bytes sent within
	// one round trip of each other went out together, in parallel). It is
	// the critical path's round trips, as far as the link can see them.
	RoundTrips int64
}

// Proxy is a running link in front of one server.
type Proxy struct {
	link     Link
	ln       net.Listener
	upstream string
	up, down *wire
	now      func() time.Time

	mu        sync.Mutex
	st        Stats
	lastBurst time.Time // when the latest burst of client bytes began
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
	closed    bool
}

// Start listens on a loopback port and forwards every connection to
// upstream (host:port) over the link.
func Start(l Link, upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("wanlink: %w", err)
	}
	p := &Proxy{
		link: l, ln: ln, upstream: upstream, now: time.Now,
		up:    &wire{rate: l.Rate, oneWay: l.RTT / 2},
		down:  &wire{rate: l.Rate, oneWay: l.RTT / 2},
		conns: map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats is what crossed the link so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// Reset zeroes the counts, between timed runs.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st = Stats{}
	p.lastBurst = time.Time{}
}

// Close stops listening and cuts every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

// burst notes client bytes handed over at t, counting a round trip when
// they begin a new burst.
func (p *Proxy) burst(t time.Time, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.BytesUp += int64(n)
	if p.lastBurst.IsZero() || t.Sub(p.lastBurst) > p.link.RTT {
		p.st.RoundTrips++
		p.lastBurst = t
	}
}

func (p *Proxy) serve(client net.Conn) {
	accepted := p.now()
	p.mu.Lock()
	p.st.Conns++
	p.st.RoundTrips++ // the handshake: a round trip before the first request leaves
	p.mu.Unlock()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client) || !p.track(server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(client)
	defer p.untrack(server)
	// The client may send once the handshake's round trip is over.
	handshake := accepted.Add(p.link.RTT)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pipe(server, client, p.up, handshake, true)
	}()
	go func() {
		defer wg.Done()
		p.pipe(client, server, p.down, time.Time{}, false)
	}()
	wg.Wait()
	client.Close()
	server.Close()
}

type frame struct {
	b  []byte
	at time.Time // when it arrives at the far side
}

// pipe carries src's bytes to dst over w; at src's end it half-closes
// dst, and a write error closes src.
func (p *Proxy) pipe(dst, src net.Conn, w *wire, notBefore time.Time, fromClient bool) {
	frames := make(chan frame, window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var failed bool
		for f := range frames {
			if failed {
				continue
			}
			if d := time.Until(f.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(f.b); err != nil {
				failed = true
				src.Close()
			}
		}
		if !failed {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
		}
	}()
	for {
		b := make([]byte, chunk)
		n, err := src.Read(b)
		if n > 0 {
			t := p.now()
			if fromClient {
				p.burst(t, n)
			} else {
				p.mu.Lock()
				p.st.BytesDown += int64(n)
				p.mu.Unlock()
			}
			frames <- frame{b: b[:n], at: w.schedule(t, notBefore, n)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				dst.Close()
			}
			break
		}
	}
	close(frames)
	<-done
}
