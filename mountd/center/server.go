// Package center serves the software center: its page (embedded) and the
// JSON API the page calls, on loopback, to the one user who asked for it.
// A request needs the session's secret, the center's own Host and, from a
// browser, the center's own origin, so that no web page (CSRF, DNS
// rebinding) and no other local user can drive it.
package center

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	dcenter "arbor/deploy/center"
	"arbor/sandbox/cgroup"
)

//go:embed assets
var assets embed.FS

const cookieName = "arbor-center"

// Server is a running center.
type Server struct {
	Center *dcenter.Center
	Apps   *dcenter.Apps
	OS     *dcenter.OS // nil: no sysroot was given

	secret string
	host   string // 127.0.0.1:PORT, the only Host accepted
	allow  func(uid uint32) bool
	ln     net.Listener
	srv    *http.Server
	used   atomic.Int64 // when a request last came, in Unix nanoseconds
	logf   func(string, ...any)
}

type peerKey struct{}

// Config is what a center serves.
type Config struct {
	Center *dcenter.Center
	Apps   *dcenter.Apps
	OS     *dcenter.OS
	// Allow says which users may use the center, by the uid owning the
	// connecting socket.
	Allow func(uid uint32) bool
	Logf  func(string, ...any)
}

// Listen starts a center on a free loopback port.
func Listen(cfg Config) (*Server, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("center: %w", err)
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{Center: cfg.Center, Apps: cfg.Apps, OS: cfg.OS, secret: hex.EncodeToString(b[:]), host: ln.Addr().String(),
		allow: cfg.Allow, ln: ln, logf: cfg.Logf}
	s.used.Store(time.Now().UnixNano())
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			uid, err := peerUID(c.LocalAddr(), c.RemoteAddr())
			if err != nil {
				return context.WithValue(ctx, peerKey{}, err)
			}
			return context.WithValue(ctx, peerKey{}, uid)
		}}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the address to open, with the secret that grants the session.
func (s *Server) URL() string { return "http://" + s.host + "/?key=" + s.secret }

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Handler is the center's HTTP handler, every route behind the checks.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the first URL holds the secret
		h.Set("Cache-Control", "no-store")
		if err := s.check(r); err != nil {
			s.logf("center: refused %s %s: %v", r.Method, r.URL.Path, err)
			reply(w, http.StatusForbidden, apiError{err.Error()})
			return
		}
		if r.URL.Path == "/" && r.URL.Query().Has("key") {
			// The secret moves from the URL into a cookie no other site
			// sends, and out of the address bar.
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.used.Store(time.Now().UnixNano())
		mux.ServeHTTP(w, r)
	})
}

// Idle says how long since the center was last asked anything.
func (s *Server) Idle() time.Duration { return time.Since(time.Unix(0, s.used.Load())) }

// Addr is the host and port served.
func (s *Server) Addr() string { return s.host }

// check refuses a request from another user, for another host name, from
// another origin, or without the secret.
func (s *Server) check(r *http.Request) error {
	if s.allow != nil {
		switch v := r.Context().Value(peerKey{}).(type) {
		case uint32:
			if !s.allow(v) {
				return fmt.Errorf("user %d may not use this center", v)
			}
		case error:
			return fmt.Errorf("who is connecting is unknown: %w", v)
		default:
			return errors.New("who is connecting is unknown")
		}
	}
	if r.Host != s.host {
		return fmt.Errorf("host %q is not this center's", r.Host)
	}
	origin := "http://" + s.host
	if o := r.Header.Get("Origin"); o != "" && o != origin {
		return fmt.Errorf("origin %q is not this center's", o)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("a request from another site (%s)", site)
	}
	given := ""
	if r.URL.Path == "/" && r.URL.Query().Has("key") {
		given = r.URL.Query().Get("key")
	} else if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		given = strings.TrimPrefix(a, "Bearer ")
	} else if c, err := r.Cookie(cookieName); err == nil {
		given = c.Value
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("Origin") != origin {
			// A browser names the origin of every request that changes
			// something; without it, a cookie alone is not enough.
			return errors.New("a change without this center's origin")
		}
	}
	if subtle.ConstantTimeCompare([]byte(given), []byte(s.secret)) != 1 {
		return errors.New("no session secret: open the address `arbor center --url` prints")
	}
	return nil
}

type apiError struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// fail answers an error with a status that says whose fault it is.
func fail(w http.ResponseWriter, err error) {
	var nf dcenter.ErrNotFound
	switch {
	case errors.As(err, &nf):
		reply(w, http.StatusNotFound, apiError{err.Error()})
	case errors.Is(err, errBadRequest):
		reply(w, http.StatusBadRequest, apiError{err.Error()})
	default:
		reply(w, http.StatusUnprocessableEntity, apiError{err.Error()})
	}
}

var errBadRequest = errors.New("bad request")

// decode reads a JSON body of at most 4 MiB (a .flatpakref or
// .flatpakrepo with its key fits many times over).
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: the body must be application/json, not %q", errBadRequest, ct)
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return nil
}

func (s *Server) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /", files)

	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		off, _ := strconv.Atoi(q.Get("offset"))
		lim, _ := strconv.Atoi(q.Get("limit"))
		p, err := s.Center.Items(r.Context(), dcenter.Query{View: q.Get("view"), Text: q.Get("q"), Category: q.Get("category"), Offset: off, Limit: lim})
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /api/items/{id...}", func(w http.ResponseWriter, r *http.Request) {
		it, err := s.Center.Item(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, it)
	})
	mux.HandleFunc("GET /api/jobs", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, s.Center.Jobs())
	})
	mux.HandleFunc("POST /api/jobs", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Action           string `json:"action"`
			Item             string `json:"item"`
			AllowPermissions bool   `json:"allow_permissions"`
			Index            int    `json:"index"`
			File             string `json:"file"`
			URL              string `json:"url"`
		}
		if err := decode(r, &req); err != nil {
			fail(w, err)
			return
		}
		if req.Action == "install-file" {
			j, err := s.Apps.StartInstallFile(s.Center, []byte(req.File), req.URL)
			if err != nil {
				fail(w, err)
				return
			}
			reply(w, http.StatusOK, j)
			return
		}
		action := strings.TrimPrefix(req.Action, "os-")
		if action == "upgrade" {
			action = dcenter.ActUpdate
		}
		if action == "check" {
			// Checking the OS fetches its origin's commit, not the apps'
			// catalogue.
			action = dcenter.ActRefresh
			if req.Item == "" {
				req.Item = "os/"
			}
		}
		j, err := s.Center.Start(dcenter.Request{Action: action, Item: req.Item,
			Options: dcenter.Options{AllowPermissions: req.AllowPermissions, Index: req.Index}})
		if err != nil {
			fail(w, fmt.Errorf("%w: %v", errBadRequest, err))
			return
		}
		reply(w, http.StatusOK, j)
	})
	mux.HandleFunc("DELETE /api/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Center.Cancel(r.PathValue("id")); err != nil {
			reply(w, http.StatusNotFound, apiError{err.Error()})
			return
		}
		reply(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("GET /api/events", s.events)

	mux.HandleFunc("POST /api/open", func(w http.ResponseWriter, r *http.Request) {
		var req dcenter.OpenRequest
		if err := decode(r, &req); err != nil {
			fail(w, err)
			return
		}
		p, err := s.Apps.Open(r.Context(), req)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /api/os", func(w http.ResponseWriter, r *http.Request) {
		if s.OS == nil {
			reply(w, http.StatusOK, dcenter.OSStatus{Stateroots: []dcenter.Stateroot{}})
			return
		}
		st, err := s.OS.Status(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /api/history", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		h, err := s.Apps.History(r.Context(), n)
		if err != nil {
			fail(w, err)
			return
		}
		if s.OS != nil {
			oh, err := s.OS.History(r.Context(), n)
			if err != nil {
				fail(w, err)
				return
			}
			// One story, newest first: the apps' and the OS's.
			h = append(h, oh...)
			sort.SliceStable(h, func(i, j int) bool { return h[i].Time.After(h[j].Time) })
			if n > 0 && len(h) > n {
				h = h[:n]
			}
		}
		reply(w, http.StatusOK, h)
	})
	mux.HandleFunc("GET /api/disk", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Apps.Disk(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /api/running", func(w http.ResponseWriter, r *http.Request) {
		run, err := s.Apps.Running(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, run)
	})
	mux.HandleFunc("POST /api/running/{instance}/limit", func(w http.ResponseWriter, r *http.Request) {
		var l cgroup.Limits
		if err := decode(r, &l); err != nil {
			fail(w, err)
			return
		}
		if err := s.Apps.Limit(r.Context(), r.PathValue("instance"), l); err != nil {
			fail(w, err)
			return
		}
		run, err := s.Apps.Running(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, http.StatusOK, run)
	})
	mux.HandleFunc("GET /api/remotes", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, s.Apps.Remotes())
	})
	mux.HandleFunc("POST /api/remotes", func(w http.ResponseWriter, r *http.Request) {
		var req dcenter.AddRemote
		if err := decode(r, &req); err != nil {
			fail(w, err)
			return
		}
		if err := s.Apps.AddRemote(r.Context(), req); err != nil {
			fail(w, err)
			return
		}
		s.Center.Changed()
		reply(w, http.StatusOK, s.Apps.Remotes())
	})
	mux.HandleFunc("PATCH /api/remotes/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req dcenter.RemoteChange
		if err := decode(r, &req); err != nil {
			fail(w, err)
			return
		}
		if err := s.Apps.ModifyRemote(r.Context(), r.PathValue("name"), req); err != nil {
			fail(w, err)
			return
		}
		s.Center.Changed()
		reply(w, http.StatusOK, s.Apps.Remotes())
	})
	mux.HandleFunc("GET /icons/{remote}/{file}", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.Apps.Icon(r.Context(), r.PathValue("remote"), r.PathValue("file"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "private, max-age=3600")
		w.Write(b)
	})
}

// events streams notices as server-sent events until the page goes.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		reply(w, http.StatusInternalServerError, apiError{"streaming is not supported"})
		return
	}
	ch, stop := s.Center.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, ": arbor center\n\n")
	fl.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			s.used.Store(time.Now().UnixNano())
			io.WriteString(w, ": still here\n\n")
		case n := <-ch:
			if n.Job != nil {
				b, _ := json.Marshal(n.Job)
				fmt.Fprintf(w, "event: job\ndata: %s\n\n", b)
			} else {
				io.WriteString(w, "event: changed\ndata: {}\n\n")
			}
		}
		fl.Flush()
	}
}
