package mountd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// The control API:
//
//	GET    /v1/mounts                 list mounts (MountInfo)
//	POST   /v1/mounts                 mount (MountRequest), answers MountInfo
//	DELETE /v1/mounts?mountpoint=DIR  unmount
//	GET    /v1/profile?mountpoint=DIR what the mount read first ({"paths": [...]})
//	POST   /v1/center                 serve the software center (CenterRequest), answers CenterInfo
//
// Errors are {"error": "..."} with a 4xx or 5xx status.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/mounts", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, d.List())
	})
	mux.HandleFunc("POST /v1/mounts", post(d.Mount))
	mux.HandleFunc("POST /v1/update", post(d.Update))
	mux.HandleFunc("DELETE /v1/mounts", func(w http.ResponseWriter, r *http.Request) {
		err := d.Unmount(r.URL.Query().Get("mountpoint"))
		switch {
		case errors.Is(err, ErrNotMounted):
			reply(w, http.StatusNotFound, apiError{err.Error()})
		case err != nil:
			reply(w, http.StatusConflict, apiError{err.Error()})
		default:
			reply(w, http.StatusOK, struct{}{})
		}
	})
	mux.HandleFunc("GET /v1/profile", func(w http.ResponseWriter, r *http.Request) {
		paths, err := d.Profile(r.URL.Query().Get("mountpoint"))
		if err != nil {
			reply(w, http.StatusNotFound, apiError{err.Error()})
			return
		}
		reply(w, http.StatusOK, profileReply{Paths: paths})
	})
	mux.HandleFunc("POST /v1/center", post(func(_ context.Context, req CenterRequest) (*CenterInfo, error) { return d.startCenter(req) }))
	return mux
}

// post is a handler that decodes a request, calls do and answers: 503 when
// the daemon is on its way out (the client starts the next one), 422
// when do failed.
func post[Req, Resp any](do func(context.Context, Req) (Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			reply(w, http.StatusBadRequest, apiError{"bad request: " + err.Error()})
			return
		}
		resp, err := do(r.Context(), req)
		switch {
		case errors.Is(err, ErrClosing):
			reply(w, http.StatusServiceUnavailable, apiError{err.Error()})
		case errors.Is(err, ErrNotMounted):
			reply(w, http.StatusNotFound, apiError{err.Error()})
		case err != nil:
			reply(w, http.StatusUnprocessableEntity, apiError{err.Error()})
		default:
			reply(w, http.StatusOK, resp)
		}
	}
}

type apiError struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Client talks to a repository's daemon.
type Client struct {
	repo string
	hc   *http.Client
}

// NewClient makes a client for the daemon of the repository at repo.
func NewClient(repo string) *Client {
	sock := SocketPath(repo)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		addr, done, err := shortPath(sock)
		if err != nil {
			return nil, err
		}
		defer done()
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", addr)
	}}
	return &Client{repo: repo, hc: &http.Client{Transport: tr}}
}

// ErrNoDaemon means no daemon answers on the repository's socket.
var ErrNoDaemon = errors.New("no arbor daemon is running for this repository")

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://arbord"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return ErrNoDaemon
		}
		return fmt.Errorf("arbor daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiError
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			return ErrClosing
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s: %w", strings.TrimSuffix(e.Error, ": "+ErrNotMounted.Error()), ErrNotMounted)
		}
		return errors.New(e.Error)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// List returns the daemon's mounts.
func (c *Client) List(ctx context.Context) ([]MountInfo, error) {
	var out []MountInfo
	return out, c.do(ctx, http.MethodGet, "/v1/mounts", nil, &out)
}

// Mount asks for a mount and returns once it answers.
func (c *Client) Mount(ctx context.Context, req MountRequest) (*MountInfo, error) {
	var out MountInfo
	if err := c.do(ctx, http.MethodPost, "/v1/mounts", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update moves mounts of refs to their refs' commits (see UpdateRequest).
func (c *Client) Update(ctx context.Context, req UpdateRequest) ([]UpdateInfo, error) {
	var out []UpdateInfo
	return out, c.do(ctx, http.MethodPost, "/v1/update", req, &out)
}

// RefsMoved tells the repository's daemon, if one runs, that refs moved,
// so that its mounts of them follow; it reports why a mount could not.
// Without a daemon there is no mount to move.
func RefsMoved(ctx context.Context, repo string, refs []string) ([]UpdateInfo, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if _, err := os.Stat(SocketPath(repo)); err != nil {
		return nil, nil
	}
	// What a pull or commit moved is here already: only a mount whose
	// remote is unreachable and whose new root is not stored would wait.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := NewClient(repo).Update(ctx, UpdateRequest{Moved: refs})
	if errors.Is(err, ErrNoDaemon) {
		return nil, nil
	}
	return out, err
}

type profileReply struct {
	Paths []string `json:"paths"`
}

// Profile is what the mount at mountpoint read in its first seconds.
func (c *Client) Profile(ctx context.Context, mountpoint string) ([]string, error) {
	var out profileReply
	err := c.do(ctx, http.MethodGet, "/v1/profile?mountpoint="+url.QueryEscape(mountpoint), nil, &out)
	return out.Paths, err
}

// Unmount asks the daemon to end a mount.
func (c *Client) Unmount(ctx context.Context, mountpoint string) error {
	return c.do(ctx, http.MethodDelete, "/v1/mounts?mountpoint="+url.QueryEscape(mountpoint), nil, nil)
}

// readyEnv names the descriptor a daemon started by EnsureDaemon closes
// once it listens.
const readyEnv = "ARBORD_READY_FD"

// EnsureDaemon starts the repository's daemon with argv unless one
// already answers, and waits until it does. The daemon runs in its own
// session with its output in the repository's mountd.log.
func EnsureDaemon(ctx context.Context, repo string, argv []string) (*Client, error) {
	c := NewClient(repo)
	if _, err := c.List(ctx); err == nil {
		return c, nil
	} else if !errors.Is(err, ErrNoDaemon) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir(repo), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(LogPath(repo), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// The daemon says it is listening by closing its end of a pipe.
	ready, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer ready.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("starting the arbor daemon: %w", err)
	}
	go cmd.Wait()
	signalled := make(chan struct{})
	go func() {
		io.Copy(io.Discard, ready)
		close(signalled)
	}()
	select {
	case <-signalled:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(15 * time.Second):
		return nil, fmt.Errorf("the arbor daemon did not answer within 15s; see %s", LogPath(repo))
	}
	// Listening, or gone because another daemon won the race to start:
	// that one mounts what it restores before it listens, so it is
	// waited for while it holds the repository's lock.
	for deadline := time.Now().Add(15 * time.Second); ; {
		_, err := c.List(ctx)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrNoDaemon) || DaemonPID(repo) == 0 || time.Now().After(deadline) {
			return nil, fmt.Errorf("the arbor daemon is not answering (%v); see %s", err, LogPath(repo))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
