package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"arbor/tests/nginx"
	"arbor/tests/wanlink"
)

// network is where a scenario's servers are: on loopback, or behind an
// emulated wide area link, where every round trip costs what users pay.
type network struct {
	link *wanlink.Link // nil: loopback
}

var (
	loopback = network{}
	wan      = network{link: &wanlink.Link{RTT: 50 * time.Millisecond, Rate: 100e6 / 8}}
)

// name is a scenario's name on this network: "pull", "pull@wan".
func (n network) name(base string) string {
	if n.link == nil {
		return base
	}
	return base + "@wan"
}

// note says what the link was, for the report.
func (n network) note(scenario string) string {
	if n.link == nil {
		return ""
	}
	return fmt.Sprintf("%s: over an emulated link of %s (tests/wanlink: a delay each way, one bandwidth shared by all connections, a round trip per new connection; no slow start or loss).", scenario, n.link)
}

// server is nginx serving a directory, as the scenario's clients see it:
// URL is nginx's own on loopback and the link's over the WAN. Bytes are
// what nginx sent; round trips are counted by the link.
type server struct {
	*nginx.Server
	URL  string
	link *wanlink.Proxy // nil on loopback
}

// serve starts nginx on root, with its files in dir, behind the network.
func (n network) serve(dir, root string) (*server, error) {
	ng, err := nginx.Start(dir, root)
	if err != nil {
		return nil, err
	}
	s := &server{Server: ng, URL: ng.URL}
	if n.link == nil {
		return s, nil
	}
	u, err := url.Parse(ng.URL)
	if err != nil {
		ng.Stop()
		return nil, err
	}
	if s.link, err = wanlink.Start(*n.link, u.Host); err != nil {
		ng.Stop()
		return nil, err
	}
	s.URL = "http://" + s.link.Addr() + "/"
	return s, nil
}

// ResetLog starts the counts of a timed run: nginx's log and the link's.
func (s *server) ResetLog() error {
	if s.link != nil {
		s.link.Reset()
	}
	return s.Server.ResetLog()
}

// trips is the link's count of round trips since the last reset (0 on
// loopback, where none is counted).
func (s *server) trips() (int64, int64) {
	if s.link == nil {
		return 0, 0
	}
	st := s.link.Stats()
	return st.RoundTrips, st.Conns
}

// Stop ends the link, then nginx.
func (s *server) Stop() {
	if s.link != nil {
		s.link.Close()
	}
	s.Server.Stop()
}

// nonEmpty is the lines that say something.
func nonEmpty(lines ...string) []string {
	var out []string
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// firstByteTargets: on loopback the first byte within 100 ms; over the
// link, where a round trip alone is 50 ms, a fiftieth of the peer's pull
// and checkout. Bytes alike on both.
func (n network) firstByteTargets() []target {
	bytes := target{peer: 1, max: 0.01, onBytes: true}
	if n.link == nil {
		return []target{{peer: 1, abs: 100 * time.Millisecond}, bytes}
	}
	return []target{{peer: 1, max: 0.02}, bytes}
}

// maxRuns caps a scenario's runs over the link: one run there is
// minutes of round trips, and they do not vary as the CPU does.
func (n network) maxRuns() int {
	if n.link != nil {
		return 1
	}
	return 0
}

// minRuns is min on loopback, where a figure of milliseconds needs
// several runs, and nothing over the link.
func (n network) minRuns(min int) int {
	if n.link != nil {
		return 0
	}
	return min
}

// writeTrace writes, when -trace asks, the requests a run made: when each
// ended after the run started, how long nginx took, its connection,
// bytes and path.
func (e *env) writeTrace(name string, start time.Time, s *server) error {
	if e.trace == "" || s == nil {
		return nil
	}
	reqs, err := s.Requests()
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "%8.3f %7.3f conn %4d %3d %9d %s\n", r.End.Sub(start).Seconds(), r.Took.Seconds(), r.Conn, r.Status, r.Bytes, r.Path)
	}
	if err := os.MkdirAll(e.trace, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.trace, strings.NewReplacer(" ", "", ",", "_", "/", "_").Replace(name)+".log"), []byte(b.String()), 0o644)
}
