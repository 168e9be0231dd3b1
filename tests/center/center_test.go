// Package center tests the software center end to end: the daemon serves
// the page for an installation whose remote nginx publishes, and
// drive.mjs drives the real page in headless Chromium (playwright-core
// pointed at Debian's chromium) by roles, as a user would, printing what it
// saw; these tests assert on that and on the installation itself.
package center

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/mountd"
	"arbor/tests/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

// needBrowser skips (or, in privileged runs, fails) without Chromium, node
// and tests/center's node modules, which tests/deps.sh installs.
func needBrowser(t *testing.T) {
	t.Helper()
	testutil.Privileged(t)
	testutil.NeedTool(t, "node")
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("Chromium is missing (/usr/bin/chromium): run tests/deps.sh")
	}
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		t.Fatalf("tests/center/node_modules lacks playwright-core: run tests/deps.sh")
	}
}

// result is what drive.mjs printed, decoded loosely: each scenario has its
// own fields.
type result = map[string]any

// drive runs one scenario of drive.mjs against the center's URL.
func drive(t *testing.T, centerURL, scenario, shots string, params map[string]any) result {
	t.Helper()
	pj, err := json.Marshal(params)
	testutil.Must(t, err)
	cmd := exec.Command("node", "drive.mjs", centerURL, scenario, shots, string(pj))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drive.mjs %s: %v\n%s\n%s", scenario, err, out, stderr.String())
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("drive.mjs %s printed no JSON: %v\n%s\n%s", scenario, err, out, stderr.String())
	}
	if r["ok"] != true {
		t.Fatalf("drive.mjs %s failed: %v\nview: %v\njobs: %v", scenario, r["failure"], r["main_text"], r["jobs_text"])
	}
	if errs, _ := r["errors"].([]any); len(errs) > 0 {
		t.Errorf("%s: the page reported errors (script, console or CSP): %v", scenario, errs)
	}
	return r
}

// get walks a decoded JSON value by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k < 0 {
				k += len(a)
			}
			if k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func strs(v any, path ...any) []string {
	var out []string
	a, _ := get(v, path...).([]any)
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func num(v any, path ...any) float64 {
	f, _ := get(v, path...).(float64)
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rowNamed finds the row of a list (rowsOf in drive.mjs) by its name.
func rowNamed(v any, name string) map[string]any {
	a, _ := v.([]any)
	for _, x := range a {
		if m, ok := x.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// checkJob asserts a job drive.mjs followed ended as wanted, its progress
// always told in words.
func checkJob(t *testing.T, what string, j any, state string) {
	t.Helper()
	if got := str(j, "state"); got != state {
		t.Errorf("%s: the job ended %q (error %q), want %s", what, got, str(j, "error"), state)
	}
	if n := num(j, "silent_zero"); n != 0 {
		t.Errorf("%s: %v times the bar stood at 0%% or unknown with no message next to it", what, n)
	}
	if num(j, "with_message") == 0 {
		t.Errorf("%s: the job never showed a message", what)
	}
	samples, _ := get(j, "samples").([]any)
	if len(samples) == 0 {
		t.Errorf("%s: no state of the job was seen", what)
	}
}

// ---------- fixtures ----------

// tinyPNG is a valid 64x64 PNG of one colour.
func tinyPNG(t *testing.T, c color.RGBA) string {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	testutil.Must(t, png.Encode(&b, img))
	return b.String()
}

type appSpec struct {
	id, name, summary, category, version, date string
	finish                                     []string // build-finish's permissions
	colour                                     color.RGBA
}

// metainfo is an app's AppStream file, with what the center shows.
func (a appSpec) metainfo() string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>%[1]s</id>
  <name>%[2]s</name>
  <summary>%[3]s</summary>
  <description>
    <p>%[2]s is a test app of arbor's software center.</p>
    <p>It does little:</p>
    <ul><li>it prints a line</li><li>it exits</li></ul>
  </description>
  <categories><category>%[4]s</category></categories>
  <developer id="org.example"><name>Example Developers</name></developer>
  <project_license>GPL-3.0-or-later</project_license>
  <launchable type="desktop-id">%[1]s.desktop</launchable>
  <releases>
    <release version="%[5]s" date="%[6]s"><description><p>Release %[5]s of %[2]s.</p></description></release>
    <release version="0.9" date="2024-01-01"><description><p>The first release.</p></description></release>
  </releases>
</component>
`, a.id, a.name, a.summary, a.category, a.version, a.date)
}

// catalogue is a repository of apps and runtimes, served by nginx.
type catalogue struct {
	t          *testing.T
	arbor, dir string
	repo, url  string
	builds     int
}

func newCatalogue(t *testing.T, arbor, dir string) *catalogue {
	c := &catalogue{t: t, arbor: arbor, dir: dir, repo: filepath.Join(dir, "repo")}
	testutil.Run(t, arbor, "--repo="+c.repo, "init", "--mode=archive")
	c.runtime("org.example.Platform")
	c.url = testutil.Nginx(t, c.repo)
	return c
}

// runtime exports a runtime of the host's sh.
func (c *catalogue) runtime(id string) {
	b := filepath.Join(c.dir, "rt-"+id)
	testutil.WriteFile(c.t, filepath.Join(b, "metadata"), "[Runtime]\nname="+id+"\nruntime="+id+"/x86_64/1.0\n", 0o644)
	testutil.HostRuntime(c.t, filepath.Join(b, "usr"), "sh")
	testutil.Must(c.t, os.MkdirAll(filepath.Join(b, "files"), 0o755))
	testutil.Run(c.t, c.arbor, "build-export", "--runtime", c.repo, b, "1.0")
}

// app builds and exports an app, a fresh build each time.
func (c *catalogue) app(a appSpec) {
	c.builds++
	b := filepath.Join(c.dir, fmt.Sprintf("build-%d", c.builds))
	testutil.Run(c.t, c.arbor, "build-init", b, a.id, "org.example.Platform", "org.example.Platform", "1.0")
	testutil.WriteFile(c.t, filepath.Join(b, "files/bin/run"), "#!/bin/sh\necho "+a.version+"\n", 0o755)
	testutil.WriteFile(c.t, filepath.Join(b, "files/share/applications/"+a.id+".desktop"),
		"[Desktop Entry]\nName="+a.name+"\nExec=run\nType=Application\nIcon="+a.id+"\n", 0o644)
	testutil.WriteFile(c.t, filepath.Join(b, "files/share/metainfo/"+a.id+".metainfo.xml"), a.metainfo(), 0o644)
	testutil.WriteFile(c.t, filepath.Join(b, "files/share/icons/hicolor/64x64/apps/"+a.id+".png"), tinyPNG(c.t, a.colour), 0o644)
	testutil.Run(c.t, c.arbor, append([]string{"build-finish", b, "--command=run"}, a.finish...)...)
	testutil.Run(c.t, c.arbor, "build-export", c.repo, b, "1.0")
}

func (c *catalogue) update() { testutil.Run(c.t, c.arbor, "build-update-repo", c.repo) }

var (
	hello  = appSpec{id: "org.example.Hello", name: "Hello", summary: "Greets the world", category: "Utility", version: "1.0", date: "2025-03-01", colour: color.RGBA{40, 120, 200, 255}}
	greedy = appSpec{id: "org.example.Greedy", name: "Greedy", summary: "Wants more each release", category: "Game", version: "1.0", date: "2025-03-02", colour: color.RGBA{200, 80, 40, 255}}
	notes  = appSpec{id: "org.example.Notes", name: "Notes", summary: "Keeps notes", category: "Office", version: "2.1", date: "2025-03-03",
		finish: []string{"--share=network"}, colour: color.RGBA{60, 160, 80, 255}}
)

// center starts the center of installation inst and returns its URL.
func center(t *testing.T, arbor, inst string, extra ...string) string {
	t.Helper()
	out := testutil.Run(t, arbor, append([]string{"--repo=" + inst, "center", "--url"}, extra...)...)
	u := strings.TrimSpace(out)
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.Contains(u, "/?key=") {
		t.Fatalf("arbor center --url printed %q", out)
	}
	return u
}

// client asks the center's API as a script would, with the secret.
type client struct {
	t      *testing.T
	base   string // http://127.0.0.1:PORT
	secret string
}

func newClient(t *testing.T, centerURL string) *client {
	u, err := url.Parse(centerURL)
	testutil.Must(t, err)
	return &client{t: t, base: "http://" + u.Host, secret: u.Query().Get("key")}
}

func (c *client) do(method, path string, body any, hdr map[string]string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	testutil.Must(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	cl := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	testutil.Must(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) get(path string, v any) {
	c.t.Helper()
	code, b := c.do("GET", path, nil, map[string]string{"Authorization": "Bearer " + c.secret})
	if code != 200 {
		c.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	testutil.Must(c.t, json.Unmarshal(b, v))
}

type item struct {
	ID, Name, State string
	InstalledCommit string   `json:"installed_commit"`
	AvailableCommit string   `json:"available_commit"`
	Actions         []string `json:"actions"`
	NewPermissions  []struct {
		Label string `json:"label"`
	} `json:"new_permissions"`
}

func (c *client) items(view string) []item {
	var p struct{ Items []item }
	c.get("/api/items?view="+view, &p)
	return p.Items
}

func itemID(kind, id string) string { return kind + "/" + id + "/x86_64/1.0@origin" }

// ---------- the apps ----------

// The apps a user sees and changes from the page, in the order a user
// would: browse, search, details, install, a .flatpakref, remove, updates
// held for their permissions, history, disk use, remotes; every view's
// screenshot.
func TestCenterApps(t *testing.T) {
	needBrowser(t)
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	shots := testutil.ShotDir(t)

	cat := newCatalogue(t, arbor, dir)
	cat.runtime("org.example.Old")
	for _, a := range []appSpec{hello, greedy, notes} {
		cat.app(a)
	}
	cat.update()

	inst := filepath.Join(dir, "inst", "repo")
	testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
	t.Cleanup(func() { mountd.Stop(inst, 10*time.Second) })
	testutil.Run(t, arbor, "--repo="+inst, "remote-add", "--no-gpg-verify", "origin", cat.url)
	// Installed before the center starts: Greedy (to update later) and a
	// runtime no app uses.
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Greedy")
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "runtime/org.example.Old/x86_64/1.0")

	cu := center(t, arbor, inst)
	api := newClient(t, cu)
	helloID := itemID("apps/app", hello.id)
	greedyID := itemID("apps/app", greedy.id)
	notesID := itemID("apps/app", notes.id)

	t.Run("browse", func(t *testing.T) {
		r := drive(t, cu, "browse", shots, map[string]any{"category": "Game"})
		if r["status"] != float64(200) {
			t.Errorf("the page answered %v", r["status"])
		}
		cards := strs(r, "cards")
		for _, n := range []string{"Hello", "Greedy", "Notes"} {
			if !contains(cards, n) {
				t.Errorf("explore lacks %s: %v", n, cards)
			}
		}
		icons, _ := r["icons"].([]any)
		if len(icons) != len(cards) {
			t.Errorf("%d icons for %d cards", len(icons), len(cards))
		}
		for _, w := range icons {
			if w != float64(64) {
				t.Errorf("an icon did not load as the 64x64 PNG published: width %v", w)
			}
		}
		cats := strings.Join(strs(r, "categories"), ",")
		for _, c := range []string{"Utility", "Game", "Office"} {
			if !strings.Contains(cats, c) {
				t.Errorf("categories lack %s: %s", c, cats)
			}
		}
		if got := strs(r, "category_cards"); len(got) != 1 || got[0] != "Greedy" {
			t.Errorf("the Game category shows %v, want Greedy alone", got)
		}
		if nav := strs(r, "nav"); len(nav) != 8 || nav[3] != "Running" {
			t.Errorf("the nav's links: %v", nav)
		}
		if r["searchbox"] != float64(1) {
			t.Errorf("%v searchboxes", r["searchbox"])
		}
		// The first paint asks for the catalogue at once, 60 at most.
		reqs, _ := r["requests"].([]any)
		if len(reqs) == 0 || str(reqs, 0, "path") != "/api/items?view=explore&limit=60" {
			t.Errorf("the page's first request: %v", get(reqs, 0))
		}
	})

	t.Run("search", func(t *testing.T) {
		r := drive(t, cu, "search", shots, map[string]any{"query": "note", "nothing": "zzzz"})
		if got := strs(r, "cards"); len(got) != 1 || got[0] != "Notes" {
			t.Errorf("searching \"note\" shows %v", got)
		}
		// One request per keystroke; the page draws only the newest answer,
		// whether or not the older ones had come back (they may have).
		if r["search_requests"] != r["keystrokes"] {
			t.Errorf("%v search requests for %v keystrokes", r["search_requests"], r["keystrokes"])
		}
		if !strings.Contains(str(r, "nothing"), "zzzz") {
			t.Errorf("a search matching nothing says %q", r["nothing"])
		}
	})

	t.Run("details", func(t *testing.T) {
		r := drive(t, cu, "details", shots, map[string]any{"name": "Notes"})
		d := get(r, "details")
		if str(d, "name") != "Notes" || str(d, "summary") != "Keeps notes" || str(d, "developer") != "Example Developers" {
			t.Errorf("details head: %v", d)
		}
		desc := str(d, "description")
		for _, want := range []string{"Notes is a test app", "it prints a line", "it exits"} {
			if !strings.Contains(desc, want) {
				t.Errorf("the description lacks %q: %q", want, desc)
			}
		}
		ver := str(d, "version")
		for _, want := range []string{"Version 2.1", "Release 2.1 of Notes.", "The first release."} {
			if !strings.Contains(ver, want) {
				t.Errorf("version and releases lack %q: %q", want, ver)
			}
		}
		facts, _ := get(d, "facts").(map[string]any)
		if facts["Remote"] != "origin" || facts["License"] != "GPL-3.0-or-later" || facts["Developer"] != "Example Developers" {
			t.Errorf("facts: %v", facts)
		}
		// Greedy, installed, pulled the runtime already.
		if s, _ := facts["Runtime"].(string); !strings.Contains(s, "runtime/org.example.Platform/x86_64/1.0") || !strings.Contains(s, "installed already") {
			t.Errorf("the runtime it would pull: %q", s)
		}
		if facts["Download"] == nil && facts["Installed"] == nil {
			t.Errorf("no size: %v", facts)
		}
		if p := strs(d, "permissions"); len(p) == 0 {
			t.Errorf("Notes shares the network, yet no permission is shown")
		}
		if str(d, "safety") == "" {
			t.Errorf("no safety rating")
		}
		if b := strs(d, "buttons"); len(b) != 1 || b[0] != "Install" {
			t.Errorf("buttons of an app not installed: %v", b)
		}
		if num(d, "icon") != 64 {
			t.Errorf("the icon: %v", get(d, "icon"))
		}
		if str(r, "after_escape") != "#/explore" {
			t.Errorf("Escape left details for %q", r["after_escape"])
		}
		if want := "#/app/" + url.PathEscape(notesID); !strings.EqualFold(str(r, "hash"), strings.ReplaceAll(want, "@", "%40")) {
			t.Logf("details' address %q (want the ID url-encoded, %s)", r["hash"], want)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		r := drive(t, cu, "keyboard", shots, nil)
		if r["focus_visible"] != true {
			t.Errorf("a focused element had no visible outline: %v", r["focus_path"])
		}
		if !strings.HasPrefix(str(r, "opened"), "#/app/") || str(r, "after_escape") != "#/explore" {
			t.Errorf("Tab, Enter, Escape: opened %q, then %q", r["opened"], r["after_escape"])
		}
	})

	t.Run("install", func(t *testing.T) {
		r := drive(t, cu, "install", shots, map[string]any{"id": helloID})
		checkJob(t, "install", get(r, "job"), "done")
		if b := strs(r, "after", "buttons"); !contains(b, "Remove") || contains(b, "Install") {
			t.Errorf("after the install, the buttons: %v", b)
		}
		if rowNamed(get(r, "installed"), "Hello") == nil {
			t.Errorf("Installed lacks Hello: %v", get(r, "installed"))
		}
		// The progress ended at the end.
		if last := get(r, "job", "samples", -1); str(last, "valuenow") != "100" {
			t.Errorf("the bar ended at %v", get(last, "valuenow"))
		}
		list := testutil.Run(t, arbor, "--repo="+inst, "list")
		if !strings.Contains(list, "app/org.example.Hello/x86_64/1.0") || !strings.Contains(list, "runtime/org.example.Platform/x86_64/1.0") {
			t.Errorf("arbor list after the page's install:\n%s", list)
		}
	})

	t.Run("flatpakref", func(t *testing.T) {
		ref := filepath.Join(dir, "notes.flatpakref")
		testutil.WriteFile(t, ref, "[Flatpak Ref]\nTitle=Notes\nName=org.example.Notes\nBranch=1.0\nUrl="+cat.url+"\nIsRuntime=false\n", 0o644)
		r := drive(t, cu, "flatpakref", shots, map[string]any{"file": ref})
		if !strings.Contains(str(r, "preview", "text"), "app/org.example.Notes/x86_64/1.0") {
			t.Errorf("the preview: %q", str(r, "preview", "text"))
		}
		checkJob(t, ".flatpakref install", get(r, "job"), "done")
		if rowNamed(get(r, "installed"), "Notes") == nil {
			t.Errorf("Installed lacks Notes: %v", get(r, "installed"))
		}
		// The remote with the .flatpakref's address is reused, as flatpak does.
		if rs, _ := get(r, "remotes").([]any); len(rs) != 1 {
			t.Errorf("remotes after the .flatpakref: %v", rs)
		}
		if list := testutil.Run(t, arbor, "--repo="+inst, "list"); !strings.Contains(list, "app/org.example.Notes/x86_64/1.0") {
			t.Errorf("arbor list:\n%s", list)
		}
	})

	t.Run("remove", func(t *testing.T) {
		r := drive(t, cu, "remove", shots, map[string]any{"id": notesID})
		checkJob(t, "remove", get(r, "job"), "done")
		if b := strs(r, "after", "buttons"); !contains(b, "Install") {
			t.Errorf("after the removal, the buttons: %v", b)
		}
		if rowNamed(get(r, "installed"), "Notes") != nil {
			t.Errorf("Installed still shows Notes")
		}
		if list := testutil.Run(t, arbor, "--repo="+inst, "list"); strings.Contains(list, "org.example.Notes") {
			t.Errorf("arbor list after the removal:\n%s", list)
		}
	})

	t.Run("update", func(t *testing.T) {
		// New releases: Hello's asks for nothing new, Greedy's for the
		// network and the home folder.
		h2, g2 := hello, greedy
		h2.version, g2.version = "1.1", "2.0"
		g2.finish = []string{"--share=network", "--filesystem=home"}
		cat.app(h2)
		cat.app(g2)
		cat.update()
		// late: Update all's end is the first the page hears of it, as on
		// a loaded machine.
		r := drive(t, cu, "update", shots, map[string]any{"refresh": true, "held": "Greedy", "held_id": greedyID, "late": true})
		checkJob(t, "check for updates", get(r, "refresh"), "done")
		checkJob(t, "update all", get(r, "update_all"), "done")
		held := rowNamed(get(r, "held_after_all"), "Greedy")
		if held == nil {
			t.Fatalf("after Update all, Greedy is not shown held: %v", get(r, "held_after_all"))
		}
		if p := strs(held, "permissions"); len(p) < 2 {
			t.Errorf("the held update shows its new permissions as %v", p)
		}
		if !contains(strs(held, "buttons"), "Update anyway") {
			t.Errorf("the held update's buttons: %v", strs(held, "buttons"))
		}
		if rowNamed(get(r, "held_after_all"), "Hello") != nil {
			t.Errorf("Update all left Hello's update")
		}
		checkJob(t, "update anyway", get(r, "anyway"), "done")
		if rowNamed(get(r, "after"), "Greedy") != nil {
			t.Errorf("after Update anyway, Greedy still waits: %v", get(r, "after"))
		}
		if ups := api.items("updates"); len(ups) != 0 {
			t.Errorf("updates left: %+v", ups)
		}
		if v := str(r, "held_details", "version"); !strings.Contains(v, "Version 2.0") {
			t.Errorf("Greedy's details after its update: %q", v)
		}
	})

	t.Run("history", func(t *testing.T) {
		r := drive(t, cu, "history", shots, nil)
		rows, _ := get(r, "history").([]any)
		ops := map[string]int{}
		for _, row := range rows {
			c := strs(row, "cells")
			if len(c) >= 3 {
				ops[c[1]+" "+c[2]]++
			}
		}
		for _, want := range []string{"install app/org.example.Hello/x86_64/1.0", "install app/org.example.Notes/x86_64/1.0",
			"uninstall app/org.example.Notes/x86_64/1.0", "update app/org.example.Hello/x86_64/1.0", "update app/org.example.Greedy/x86_64/1.0"} {
			if ops[want] == 0 {
				t.Errorf("history lacks %q: %v", want, ops)
			}
		}
	})

	t.Run("disk", func(t *testing.T) {
		r := drive(t, cu, "disk", shots, map[string]any{"remove_unused": "org.example.Old"})
		var unused []string
		for _, row := range get(r, "disk").([]any) {
			if contains(strs(row, "buttons"), "Remove") {
				unused = append(unused, strs(row, "cells")[0])
			}
		}
		if len(unused) != 1 || !strings.Contains(unused[0], "org.example.Old") {
			t.Errorf("the unused runtimes flagged: %v", unused)
		}
		checkJob(t, "remove an unused runtime", get(r, "job"), "done")
		for _, row := range get(r, "after").([]any) {
			if strings.Contains(strs(row, "cells")[0], "org.example.Old") {
				t.Errorf("the runtime removed is still listed")
			}
		}
	})

	t.Run("remotes", func(t *testing.T) {
		r := drive(t, cu, "remotes", shots, map[string]any{"disable": "origin"})
		if rowNamed(get(r, "remotes"), "origin") == nil {
			t.Fatalf("remotes: %v", get(r, "remotes"))
		}
		if r["patch_status"] != float64(200) || r["patch_status2"] != float64(200) {
			t.Errorf("the checkbox's changes: %v %v", r["patch_status"], r["patch_status2"])
		}
		// What is installed stays; what origin alone offers goes.
		if c := strs(r, "cards_disabled"); contains(c, "Notes") || len(c) != 2 {
			t.Errorf("with origin disabled, explore shows %v", c)
		}
		cfg := testutil.ReadFile(t, filepath.Join(inst, "config"))
		if strings.Contains(cfg, "xa.disable=true") {
			t.Errorf("origin is still disabled after checking Enabled again:\n%s", cfg)
		}
	})

	t.Run("running", func(t *testing.T) {
		testutil.Privileged(t)
		if !testutil.HasCgroup2() {
			t.Skip("no cgroup v2 hierarchy: instances have no cgroup of their own")
		}
		run := exec.Command(arbor, "--repo="+inst, "run", "--command=sh", "org.example.Greedy", "-c", "read x")
		stdin, err := run.StdinPipe()
		testutil.Must(t, err)
		testutil.Must(t, run.Start())
		defer func() { stdin.Close(); run.Wait() }()
		// Listed once its sandbox runs in its cgroup.
		var running []struct {
			Instance string `json:"instance"`
			Usage    *struct {
				Processes int `json:"processes"`
			} `json:"usage"`
		}
		for i := 0; ; i++ {
			api.get("/api/running", &running)
			if len(running) == 1 && running[0].Usage != nil && running[0].Usage.Processes > 0 {
				break
			}
			if i > 300 {
				t.Fatalf("the running app is not listed with its cgroup: %+v", running)
			}
			time.Sleep(20 * time.Millisecond)
		}
		r := drive(t, cu, "running", shots, map[string]any{"name": "Greedy", "memory_mib": 64, "processes": 50})
		rows := get(r, "rows").([]any)
		if len(rows) != 1 || strs(rows[0], "cells")[0] != "Greedy" || strs(rows[0], "cells")[1] != running[0].Instance || !contains(strs(rows[0], "buttons"), "Set limits") {
			t.Fatalf("the running view: %v", rows)
		}
		if r["limit_status"] != float64(200) {
			t.Errorf("setting limits: %v", r["limit_status"])
		}
		if after := strs(get(r, "after").([]any)[0], "cells")[5]; !strings.Contains(after, "memory 67 MB, 50 processes") {
			t.Errorf("the limits shown after setting them: %q", after)
		}
		ps := testutil.Run(t, arbor, "--repo="+inst, "ps", "--json")
		if !strings.Contains(ps, `"memory_bytes": 67108864`) || !strings.Contains(ps, `"processes": 50`) {
			t.Errorf("ps after the page's limits:\n%s", ps)
		}
	})

	t.Run("views", func(t *testing.T) {
		r := drive(t, cu, "views", shots, nil)
		want := map[string]string{"installed": "Installed", "updates": "Updates", "running": "Running", "os": "System", "history": "History", "disk": "Disk use", "remotes": "Remotes"}
		for v, h := range want {
			if str(r, "headings", v) != h {
				t.Errorf("view %s's heading: %q", v, str(r, "headings", v))
			}
		}
	})

	t.Run("refused", func(t *testing.T) { refusals(t, cu) })
}

// refusals: no secret, another origin, another host name, a change with a
// cookie but no origin, and another local user are refused.
func refusals(t *testing.T, cu string) {
	c := newClient(t, cu)
	host := strings.TrimPrefix(c.base, "http://")
	bearer := "Bearer " + c.secret
	job := map[string]any{"action": "refresh"}
	for _, r := range []struct {
		what, method, path string
		body               any
		hdr                map[string]string
		code               int
	}{
		{"with the secret", "GET", "/api/items?view=explore", nil, map[string]string{"Authorization": bearer}, 200},
		{"the secret in the URL sets a cookie", "GET", "/?key=" + c.secret, nil, nil, 303},
		{"no secret", "GET", "/api/items?view=explore", nil, nil, 403},
		{"no secret, the page", "GET", "/", nil, nil, 403},
		{"a wrong secret", "GET", "/api/jobs", nil, map[string]string{"Authorization": "Bearer 00"}, 403},
		{"no secret, a change", "POST", "/api/jobs", job, nil, 403},
		{"another origin", "POST", "/api/jobs", job, map[string]string{"Authorization": bearer, "Origin": "http://127.0.0.2:8080"}, 403},
		{"another origin, a read", "GET", "/api/items?view=explore", nil, map[string]string{"Authorization": bearer, "Origin": "http://127.0.0.2:8080"}, 403},
		{"another site", "GET", "/api/history", nil, map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site"}, 403},
		{"another host name (DNS rebinding)", "GET", "/api/items?view=explore", nil, map[string]string{"Authorization": bearer, "Host": "rebound.test:" + strings.Split(host, ":")[1]}, 403},
		{"a cookie and no origin, a change", "POST", "/api/jobs", job, map[string]string{"Cookie": "arbor-center=" + c.secret}, 403},
		{"a cookie and the origin, a change", "POST", "/api/jobs", map[string]any{"action": "bogus"}, map[string]string{"Cookie": "arbor-center=" + c.secret, "Origin": c.base}, 400},
		{"JSON only", "POST", "/api/open", nil, map[string]string{"Authorization": bearer, "Content-Type": "text/plain"}, 400},
	} {
		code, b := c.do(r.method, r.path, r.body, r.hdr)
		if code != r.code {
			t.Errorf("%s: %s %s answered %d, want %d: %s", r.what, r.method, r.path, code, r.code, b)
		}
		if code == 403 {
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Errorf("%s: the refusal is not a JSON error: %s", r.what, b)
			}
		}
	}
	// Another local user, with the secret: the socket's owner is not the
	// center's user.
	testutil.NeedTool(t, "setpriv")
	testutil.NeedTool(t, "curl")
	out, errOut, err := testutil.RunErr("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
		"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: "+bearer, c.base+"/api/items?view=explore")
	if err != nil || strings.TrimSpace(out) != "403" {
		t.Errorf("as user nobody, with the secret: %q %v %s", out, err, errOut)
	}
}

// ---------- the OS ----------

// osTree is a test OS release: a kernel, an initramfs, os-release and the
// host's sh.
func osTree(t *testing.T, dir, version string) string {
	root := filepath.Join(dir, "tree-"+version)
	testutil.WriteFile(t, filepath.Join(root, "usr/lib/modules/6.1.0-test/vmlinuz"), "KERNEL-"+version+"\n", 0o644)
	testutil.WriteFile(t, filepath.Join(root, "usr/lib/modules/6.1.0-test/initramfs.img"), "INITRAMFS\n", 0o644)
	testutil.WriteFile(t, filepath.Join(root, "usr/lib/os-release"), "ID=testos\nVERSION_ID="+version+"\n", 0o644)
	testutil.WriteFile(t, filepath.Join(root, "usr/etc/motd"), "Test OS "+version+"\n", 0o644)
	testutil.HostRuntime(t, filepath.Join(root, "usr"), "sh", "true")
	return root
}

// The OS page on a sysroot: check for an upgrade, upgrade, pin and unpin a
// deployment, roll back; ostree sees each change.
func TestCenterOS(t *testing.T) {
	needBrowser(t)
	testutil.NeedRoot(t) // deployments keep owners and immutable roots
	testutil.NeedTool(t, "ostree")
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	shots := testutil.ShotDir(t)

	sr := filepath.Join(dir, "sysroot")
	t.Cleanup(func() {
		roots, _ := filepath.Glob(filepath.Join(sr, "ostree/deploy/*/deploy/*"))
		for _, r := range roots {
			exec.Command("chattr", "-i", r).Run()
		}
	})
	testutil.Run(t, arbor, "admin", "init-fs", sr)
	testutil.Run(t, arbor, "admin", "os-init", "--sysroot="+sr, "testos")
	osRepo := filepath.Join(sr, "ostree/repo")
	testutil.Run(t, "ostree", "--repo="+osRepo, "config", "set", "sysroot.bootloader", "none")
	commit := func(version string) string {
		return strings.TrimSpace(testutil.Run(t, arbor, "--repo="+osRepo, "commit", "-b", "testos/stable", "--tree=dir="+osTree(t, dir, version),
			"--add-metadata-string=version="+version, "--timestamp=@1700000000"))
	}
	c1 := commit("1.0")
	testutil.Run(t, arbor, "admin", "deploy", "--sysroot="+sr, "--os=testos", "testos/stable")
	c2 := commit("2.0")

	inst := filepath.Join(dir, "inst", "repo")
	testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
	t.Cleanup(func() { mountd.Stop(inst, 10*time.Second) })
	cu := center(t, arbor, inst, "--sysroot="+sr)

	r := drive(t, cu, "os", shots, nil)
	deps := func(state string) []any { d, _ := get(r, state, "deployments").([]any); return d }
	if d := deps("before"); len(d) != 1 || !strings.HasPrefix(c1, str(d, 0, "cells", 2)) {
		t.Errorf("deployments at first (want %s): %v", c1, d)
	}
	checkJob(t, "check for updates", get(r, "check"), "done")
	if u := str(r, "checked", "update"); !strings.Contains(u, "2.0") || !strings.Contains(u, c2[:10]) {
		t.Errorf("after Check for updates: %q (want version 2.0, %s)", u, c2)
	}
	checkJob(t, "upgrade", get(r, "upgrade"), "done")
	d := deps("upgraded")
	if len(d) != 2 || str(d, 0, "cells", 1) != "2.0" || !strings.Contains(str(d, 0, "cells", 3), "default") || str(d, 1, "cells", 1) != "1.0" {
		t.Errorf("deployments after Upgrade: %v", d)
	}
	checkJob(t, "pin", get(r, "pin"), "done")
	if d := deps("pinned"); !strings.Contains(str(d, 1, "cells", 3), "pinned") || !contains(strs(d, 1, "buttons"), "Unpin") {
		t.Errorf("after Pin of deployment 1: %v", d)
	}
	checkJob(t, "unpin", get(r, "unpin"), "done")
	checkJob(t, "roll back", get(r, "rollback"), "done")
	d = deps("rolledback")
	if len(d) != 2 || str(d, 0, "cells", 1) != "1.0" || !strings.Contains(str(d, 0, "cells", 3), "default") {
		t.Errorf("deployments after Roll back: %v", d)
	}
	status := testutil.Run(t, "ostree", "admin", "status", "--sysroot="+sr)
	if i1, i2 := strings.Index(status, c1), strings.Index(status, c2); i1 < 0 || i2 < 0 || i1 > i2 {
		t.Errorf("ostree admin status after the rollback (want %s first):\n%s", c1, status)
	}
	var ops []string
	for _, row := range get(r, "history").([]any) {
		if c := strs(row, "cells"); len(c) > 1 {
			ops = append(ops, c[1])
		}
	}
	for _, want := range []string{"os-deploy", "os-rollback", "os-pin", "os-unpin"} {
		if !contains(ops, want) {
			t.Errorf("history lacks %s: %v", want, ops)
		}
	}
}
