package wanlink

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"arbor/tests/testutil"
)

func TestSchedule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// 1,000 bytes a millisecond, 25 ms each way.
	type send struct {
		at, notBefore time.Time
		n             int
		want          time.Time
	}
	tests := []struct {
		name  string
		sends []send
	}{
		{"one frame: its time on the wire, then the delay", []send{{ms(0), time.Time{}, 1000, ms(26)}}},
		{"a second frame queues behind the first", []send{
			{ms(0), time.Time{}, 5000, ms(30)},
			{ms(1), time.Time{}, 1000, ms(31)},
		}},
		{"an idle wire starts afresh", []send{
			{ms(0), time.Time{}, 1000, ms(26)},
			{ms(100), time.Time{}, 1000, ms(126)},
		}},
		{"a handshake holds the first bytes back", []send{{ms(0), ms(50), 1000, ms(76)}}},
		{"a frame after the handshake is not held", []send{{ms(60), ms(50), 0, ms(85)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &wire{rate: 1_000_000, oneWay: 25 * time.Millisecond}
			for i, s := range tc.sends {
				if got := w.schedule(s.at, s.notBefore, s.n); !got.Equal(s.want) {
					t.Errorf("send %d: arrives at +%v, want +%v", i, got.Sub(t0), s.want.Sub(t0))
				}
			}
		})
	}
}

// echoServer is a server that answers each connection with what it read,
// once the client half-closed, then closes.
func echoServer(t *testing.T) string {
	return testutil.ServeTCP(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		c.Write(b)
	})
}

func TestProxyCarriesBytes(t *testing.T) {
	p, err := Start(Link{RTT: 2 * time.Millisecond, Rate: 1 << 30}, echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	payloads := [][]byte{[]byte("hello"), make([]byte, 3<<20+7)}
	rand.Read(payloads[1])
	var wg sync.WaitGroup
	for _, want := range payloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			go func() {
				c.Write(want)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Error(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("echo of %d bytes came back as %d bytes, or changed", len(want), len(got))
			}
		}()
	}
	wg.Wait()
	st := p.Stats()
	total := int64(len(payloads[0]) + len(payloads[1]))
	if st.Conns != 2 || st.BytesUp != total || st.BytesDown != total {
		t.Errorf("stats %+v, want 2 connections and %d bytes each way", st, total)
	}
	if st.RoundTrips < 2 {
		t.Errorf("%d round trips counted, want at least the two handshakes", st.RoundTrips)
	}
	p.Reset()
	if st := p.Stats(); st != (Stats{}) {
		t.Errorf("after Reset: %+v", st)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p, err := Start(Link{RTT: time.Millisecond, Rate: 1 << 30}, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a link to nothing", n)
	}
}
