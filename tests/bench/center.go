package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"arbor/mountd"
)

// centerInst is an installation with both remotes of the catalogue and its
// daemon serving the center, the catalogue loaded.
type centerInst struct {
	repo   string
	url    string // what `arbor center --url` printed, with the secret
	base   string // http://127.0.0.1:PORT
	secret string
	loaded time.Duration // from `center --url` to all the catalogue listed
}

// newCenterInst makes an installation under dir, adds the remotes and
// starts the center.
func newCenterInst(e *env, c *catalogue, dir string) (*centerInst, error) {
	ci := &centerInst{repo: filepath.Join(dir, "repo")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	argvs := [][]string{{e.arbor, "--repo=" + ci.repo, "init", "--mode=bare-user"}}
	for i, r := range c.remotes {
		argvs = append(argvs, []string{e.arbor, "--repo=" + ci.repo, "remote", "add", "--no-gpg-verify", r.name, c.urlOf(i)})
	}
	if err := runAll(e, argvs); err != nil {
		return nil, err
	}
	start := time.Now()
	s, err := run(e, []string{e.arbor, "--repo=" + ci.repo, "center", "--url"})
	if err != nil {
		return nil, err
	}
	ci.url = lastLine(s.stdout)
	u, err := url.Parse(ci.url)
	if err != nil || u.Query().Get("key") == "" {
		return nil, fmt.Errorf("center --url printed %q", s.stdout)
	}
	ci.base, ci.secret = "http://"+u.Host, u.Query().Get("key")
	// The center refreshes the catalogue as it starts: wait for all of it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var p struct {
			Total int `json:"total"`
		}
		err := ci.get("/api/items?view=explore&limit=1", &p)
		if err == nil && p.Total >= catApps {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the center listed %d of %d apps after 2 minutes (%v)", p.Total, catApps, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ci.loaded = time.Since(start)
	return ci, nil
}

// stop ends the installation's daemon.
func (ci *centerInst) stop() {
	if ci != nil {
		mountd.Stop(ci.repo, 10*time.Second)
	}
}

// pid is the daemon's process id.
func (ci *centerInst) pid() int { return mountd.DaemonPID(ci.repo) }

// get calls the center's API with the session's secret.
func (ci *centerInst) get(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, ci.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+ci.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

type apiItem struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

type apiPage struct {
	Items []apiItem `json:"items"`
	Total int       `json:"total"`
}

// items is a page of the explore view for a search.
func (ci *centerInst) items(text string, limit int) (*apiPage, error) {
	var p apiPage
	err := ci.get(fmt.Sprintf("/api/items?view=explore&q=%s&limit=%d", url.QueryEscape(text), limit), &p)
	return &p, err
}

type apiJob struct {
	ID      string    `json:"id"`
	Action  string    `json:"action"`
	Item    string    `json:"item"`
	State   string    `json:"state"`
	Error   string    `json:"error"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

// install starts an install job with POST /api/jobs, as the page does,
// and follows /api/events until the job ends. It returns the job as it
// ended.
func (ci *centerInst) install(item string) (*apiJob, error) {
	req, err := http.NewRequest(http.MethodGet, ci.base+"/api/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+ci.secret)
	ev, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer ev.Body.Close()
	if ev.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/events: %s", ev.Status)
	}
	body, _ := json.Marshal(map[string]string{"action": "install", "item": item})
	req, err = http.NewRequest(http.MethodPost, ci.base+"/api/jobs", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+ci.secret)
	req.Header.Set("Origin", ci.base)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /api/jobs: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var j apiJob
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(ev.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var n apiJob
		if json.Unmarshal([]byte(data), &n) != nil || n.ID != j.ID {
			continue
		}
		switch n.State {
		case "done":
			return &n, nil
		case "failed", "cancelled":
			return nil, fmt.Errorf("install of %s: %s: %s", item, n.State, n.Error)
		}
	}
	return nil, fmt.Errorf("install of %s: the events ended first (%v)", item, sc.Err())
}

// memory reads the daemon's resident and peak resident memory, in bytes.
func (ci *centerInst) memory() (rss, hwm int64, err error) {
	pid := ci.pid()
	if pid == 0 {
		return 0, 0, errors.New("no daemon serves " + ci.repo)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return rss, hwm, nil
}

// driver is one long-lived node process driving headless Chromium with
// playwright-core (tests/bench/center.mjs): a JSON command a line on its
// stdin, a JSON answer a line on its stdout, with the page's own timings.
type driver struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
}

// benchDir is this package's source directory, where center.mjs is.
func benchDir() string {
	_, file, _, _ := runtime.Caller(0)
	if d := filepath.Dir(file); file != "" {
		if _, err := os.Stat(filepath.Join(d, "center.mjs")); err == nil {
			return d
		}
	}
	wd, _ := os.Getwd()
	return filepath.Join(wd, "tests", "bench")
}

// playwrightCore finds the playwright-core package: $ARBOR_PLAYWRIGHT_CORE,
// else tests/center's node_modules (installed there with npm ci if the
// lock file is there and the package is not).
func playwrightCore(e *env) (string, error) {
	if p := os.Getenv("ARBOR_PLAYWRIGHT_CORE"); p != "" {
		return p, nil
	}
	center := filepath.Join(filepath.Dir(benchDir()), "center")
	pkg := filepath.Join(center, "node_modules", "playwright-core")
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err == nil {
		return pkg, nil
	}
	if _, err := os.Stat(filepath.Join(center, "package-lock.json")); err == nil {
		logf("center: installing playwright-core in %s (npm ci)", center)
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = center
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("npm ci in %s: %v: %s", center, err, out)
		}
		if _, err := os.Stat(filepath.Join(pkg, "package.json")); err == nil {
			return pkg, nil
		}
	}
	return "", fmt.Errorf("playwright-core not found in %s (run npm ci there, or set ARBOR_PLAYWRIGHT_CORE to the package's directory)", filepath.Dir(pkg))
}

func startDriver(e *env) (*driver, error) {
	pw, err := playwrightCore(e)
	if err != nil {
		return nil, err
	}
	chromium := os.Getenv("ARBOR_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	d := &driver{cmd: exec.Command("node", filepath.Join(benchDir(), "center.mjs"))}
	d.cmd.Env = append(os.Environ(), "ARBOR_PLAYWRIGHT_CORE="+pw, "ARBOR_CHROMIUM="+chromium)
	d.cmd.Stderr = &d.stderr
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d.out = bufio.NewScanner(out)
	d.out.Buffer(make([]byte, 1<<20), 16<<20)
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node: %w", err)
	}
	if _, err := d.call(map[string]any{"op": "launch"}); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// driverAnswer is what center.mjs says: times in milliseconds, measured by
// node (ms) and inside the page (page_ms), and what it saw.
type driverAnswer struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error"`
	MS     float64 `json:"ms"`
	PageMS float64 `json:"page_ms"`
	// PaintedMS and DownMS are an install's page time to the frame after
	// it, and from the mousedown.
	PaintedMS float64 `json:"painted_ms"`
	DownMS    float64 `json:"down_ms"`
	Text      string  `json:"text"`
	// Requests are what the page fetched during the action, with the
	// milliseconds from its start to each answer.
	Requests []string `json:"requests"`
	// IdleMS is how long the driver waited for the browser to go quiet
	// before the action.
	IdleMS float64 `json:"idle_ms"`
}

func (d *driver) call(cmd map[string]any) (*driverAnswer, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("driver: %w (stderr: %s)", err, d.stderr.String())
	}
	if !d.out.Scan() {
		return nil, fmt.Errorf("driver: no answer to %s (%v; stderr: %s)", cmd["op"], d.out.Err(), strings.TrimSpace(d.stderr.String()))
	}
	var a driverAnswer
	if err := json.Unmarshal(d.out.Bytes(), &a); err != nil {
		return nil, fmt.Errorf("driver: %q: %w", d.out.Text(), err)
	}
	if !a.OK {
		return nil, fmt.Errorf("driver %s: %s", cmd["op"], a.Error)
	}
	return &a, nil
}

func (d *driver) stop() {
	if d == nil || d.cmd.Process == nil {
		return
	}
	d.in.Write([]byte(`{"op":"quit"}` + "\n"))
	d.in.Close()
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtMS(v []float64) string {
	var parts []string
	for _, f := range v {
		parts = append(parts, fmt.Sprintf("%.1f", f))
	}
	return strings.Join(parts, ", ")
}
