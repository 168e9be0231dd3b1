package center

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	dcenter "arbor/deploy/center"
)

// fake is a backend of two apps whose install reports progress and waits
// to be cancelled when asked to.
type fake struct{ block chan struct{} }

func (f *fake) Name() string { return "fake" }
func (f *fake) Refresh(context.Context, dcenter.Progress) error {
	return nil
}
func (f *fake) List(context.Context) ([]*dcenter.Item, error) {
	return []*dcenter.Item{
		{ID: "fake/hello", Backend: "fake", Kind: "app", Name: "Hello", Summary: "Greets", State: dcenter.Available, Categories: []string{"Utility"}},
		{ID: "fake/paint", Backend: "fake", Kind: "app", Name: "Paint", Summary: "Draws", State: dcenter.Installed},
	}, nil
}
func (f *fake) Refine(ctx context.Context, id string) (*dcenter.Item, error) {
	items, _ := f.List(ctx)
	for _, it := range items {
		if it.ID == id {
			return it, nil
		}
	}
	return nil, dcenter.ErrNotFound{ID: id}
}
func (f *fake) Install(ctx context.Context, id string, _ dcenter.Options, p dcenter.Progress) (*dcenter.Result, error) {
	p(dcenter.Event{Phase: "fetching", Message: "fetching " + id, Bytes: 10})
	if f.block != nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, nil
}
func (f *fake) Remove(context.Context, string, dcenter.Progress) (*dcenter.Result, error) {
	return nil, nil
}
func (f *fake) Update(context.Context, []string, dcenter.Options, dcenter.Progress) (*dcenter.Result, error) {
	return nil, nil
}

func start(t *testing.T, b dcenter.Backend, allow func(uint32) bool) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := Listen(Config{Center: dcenter.New(ctx, b), Allow: allow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// session opens the center's URL and returns a client holding its cookie.
func session(t *testing.T, s *Server) *http.Client {
	t.Helper()
	jar := &jar{}
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "" {
		t.Fatalf("opening the URL: %s, ended at %s", resp.Status, resp.Request.URL)
	}
	return hc
}

// jar keeps the one cookie the center sets.
type jar struct{ c []*http.Cookie }

func (j *jar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.c = append(j.c, cs...) }
func (j *jar) Cookies(*url.URL) []*http.Cookie          { return j.c }

func TestRefusals(t *testing.T) {
	s := start(t, &fake{}, nil)
	base := "http://" + s.Addr()
	hc := session(t, s)
	secret := s.URL()[strings.Index(s.URL(), "key=")+4:]
	tests := []struct {
		name   string
		method string
		path   string
		client *http.Client
		header map[string]string
		want   int
	}{
		{"page without the secret", "GET", "/", http.DefaultClient, nil, 403},
		{"API without the secret", "GET", "/api/items", http.DefaultClient, nil, 403},
		{"a wrong secret", "GET", "/?key=" + strings.Repeat("0", len(secret)), http.DefaultClient, nil, 403},
		{"a wrong bearer", "GET", "/api/items", http.DefaultClient, map[string]string{"Authorization": "Bearer x"}, 403},
		{"the page in session", "GET", "/", hc, nil, 200},
		{"the API in session", "GET", "/api/items", hc, nil, 200},
		{"the API with the bearer", "GET", "/api/items", http.DefaultClient, map[string]string{"Authorization": "Bearer " + secret}, 200},
		{"another origin", "GET", "/api/items", hc, map[string]string{"Origin": "http://127.0.0.1:1"}, 403},
		{"another site", "GET", "/api/items", hc, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"a rebound host name", "GET", "/api/items", hc, map[string]string{"Host": "rebound.invalid:" + s.Addr()[strings.LastIndex(s.Addr(), ":")+1:]}, 403},
		{"a change without an origin", "POST", "/api/jobs", hc, map[string]string{"Content-Type": "application/json"}, 403},
		{"a change from another origin", "POST", "/api/jobs", hc, map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:1"}, 403},
		{"a change from the page", "POST", "/api/jobs", hc, map[string]string{"Content-Type": "application/json", "Origin": base}, 200},
		{"a change as a form", "POST", "/api/jobs", hc, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": base}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.NewReader(`{"action":"install","item":"fake/hello"}`)
			req, err := http.NewRequest(tc.method, base+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.want)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

func TestOtherUserRefused(t *testing.T) {
	var asked []uint32
	s := start(t, &fake{}, func(uid uint32) bool { asked = append(asked, uid); return false })
	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a user the center does not allow got %s", resp.Status)
	}
	if len(asked) == 0 || asked[0] != uint32(os.Getuid()) {
		t.Fatalf("the center saw the peer as %v, want uid %d", asked, os.Getuid())
	}
}

func TestPeerUIDv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil && os.Getenv("ARBOR_TEST_PRIVILEGED") == "" {
		t.Skip("no IPv6 loopback:", err)
	}
	if err != nil {
		t.Fatal("no IPv6 loopback:", err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	uid, err := peerUID(sc.LocalAddr(), sc.RemoteAddr())
	if err != nil || uid != uint32(os.Getuid()) {
		t.Fatalf("peer of %s: %d, %v", sc.RemoteAddr(), uid, err)
	}
}

// A job's progress and end reach the event stream, and a cancel stops it.
func TestJobEvents(t *testing.T) {
	s := start(t, &fake{block: make(chan struct{})}, nil)
	hc := session(t, s)
	base := "http://" + s.Addr()
	ev, err := hc.Get(base + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	req, _ := http.NewRequest("POST", base+"/api/jobs", strings.NewReader(`{"action":"install","item":"fake/hello"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var j dcenter.Job
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	sc := bufio.NewScanner(ev.Body)
	seen := map[string]bool{}
	deadline := time.AfterFunc(10*time.Second, func() { ev.Body.Close() })
	defer deadline.Stop()
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "{}" {
			continue
		}
		var got dcenter.Job
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		seen[got.State+":"+got.Phase] = true
		if got.State == dcenter.Running && got.Phase == "fetching" {
			if got.Message != "fetching fake/hello" || got.Bytes != 10 {
				t.Errorf("progress %+v", got)
			}
			req, _ := http.NewRequest("DELETE", base+"/api/jobs/"+j.ID, nil)
			req.Header.Set("Origin", base)
			if r, err := hc.Do(req); err != nil || r.StatusCode != 200 {
				t.Fatalf("cancel: %v %v", r, err)
			}
		}
		if got.State == dcenter.Cancelled {
			return
		}
	}
	t.Fatalf("the stream ended without the job cancelled; saw %v", seen)
}
