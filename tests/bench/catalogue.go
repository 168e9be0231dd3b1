package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/sandbox"
	"arbor/store"
	"arbor/tests/nginx"
)

// The software center's catalogue (issue 16): 1,000 apps across two
// remotes, each a real exported app with its metainfo (name, summary,
// description, categories) and a 64x64 icon, on a small runtime both
// remotes carry. Built once per bench invocation, in-process (a thousand
// build-export processes would take minutes), and served by nginx, one
// server per remote, for every center scenario.

const (
	catApps    = 1000
	catRemotes = 2
	catBranch  = "stable"
	catRuntime = "org.bench.Platform"
	catRtVer   = "1"
)

var catAdjectives = []string{"Amber", "Bold", "Brisk", "Calm", "Clever", "Cosmic", "Crisp", "Daring", "Deep", "Eager",
	"Fancy", "Gentle", "Golden", "Happy", "Hidden", "Jolly", "Keen", "Lively", "Lucky", "Mellow",
	"Mighty", "Nimble", "Noble", "Open", "Plain", "Quick", "Quiet", "Rapid", "Royal", "Rustic",
	"Silver", "Simple", "Smart", "Solid", "Sunny", "Swift", "Tidy", "Vivid", "Wild", "Zesty"}

// catNouns name what an app does, with its summary and its category.
var catNouns = []struct{ word, does, category string }{
	{"Notes", "Take and organise notes", "Office"},
	{"Paint", "Draw and paint pictures", "Graphics"},
	{"Graph", "Plot data as charts", "Science"},
	{"Grain", "Edit photos with film grain", "Graphics"},
	{"Music", "Play your music library", "AudioVideo"},
	{"Video", "Watch films and series", "AudioVideo"},
	{"Mail", "Read and write mail", "Network"},
	{"Chat", "Talk with friends", "Network"},
	{"Maps", "Find places and routes", "Utility"},
	{"Clock", "Alarms, timers and world clocks", "Utility"},
	{"Chess", "Play chess against the computer", "Game"},
	{"Cards", "Play solitaire card games", "Game"},
	{"Editor", "Edit text and code", "Development"},
	{"Shell", "A terminal for the command line", "System"},
	{"Files", "Browse and manage files", "System"},
	{"Books", "Read e-books", "Education"},
	{"Words", "Learn new words every day", "Education"},
	{"Stars", "Explore the night sky", "Science"},
	{"Budget", "Track spending and savings", "Office"},
	{"Sheets", "Work with spreadsheets", "Office"},
	{"Radio", "Listen to internet radio", "AudioVideo"},
	{"Weather", "Forecasts for your places", "Utility"},
	{"Scanner", "Scan documents and photos", "Graphics"},
	{"Debugger", "Step through programs", "Development"},
	{"Puzzle", "Solve sliding puzzles", "Game"},
}

// catApp is one app of the catalogue.
type catApp struct {
	id, name, summary, category string
	remote                      int // index into catalogue.remotes
}

// item is the app's id in the center's API.
func (a catApp) item(c *catalogue) string {
	return fmt.Sprintf("apps/app/%s/%s/%s@%s", a.id, flatpak.Arch(), catBranch, c.remotes[a.remote].name)
}

type catRemote struct {
	name, repo string
	srv        *nginx.Server
}

type catalogue struct {
	dir     string
	apps    []catApp
	remotes []catRemote
	built   time.Duration // how long building and publishing took
}

func (c *catalogue) urlOf(i int) string { return c.remotes[i].srv.URL }

var (
	catOnce   sync.Once
	catShared *catalogue
	catErr    error
)

// sharedCatalogue builds the catalogue on first use and keeps it (and its
// servers) until the bench ends.
func sharedCatalogue(e *env) (*catalogue, error) {
	catOnce.Do(func() {
		catShared, catErr = buildCatalogue(e, e.dir("center-catalogue"))
		if catShared != nil {
			c := catShared
			e.atExit = append(e.atExit, func() {
				for _, r := range c.remotes {
					if r.srv != nil {
						r.srv.Stop()
					}
				}
			})
		}
	})
	return catShared, catErr
}

func catalogueApps() []catApp {
	var out []catApp
	for k := 0; k < catApps; k++ {
		adj, n := catAdjectives[k/len(catNouns)%len(catAdjectives)], catNouns[k%len(catNouns)]
		out = append(out, catApp{
			id:       fmt.Sprintf("org.bench.r%d.%s%s", k%catRemotes+1, adj, n.word),
			name:     adj + " " + n.word,
			summary:  n.does,
			category: n.category,
			remote:   k % catRemotes,
		})
	}
	return out
}

// icon is a 64x64 PNG of one colour per app, with a border.
func icon(k int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	fill := color.RGBA{uint8(k * 37), uint8(k * 91 >> 2), uint8(255 - k%256), 255}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			c := fill
			if x < 4 || y < 4 || x > 59 || y > 59 {
				c = color.RGBA{40, 40, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

func writeFile(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, mode)
}

func metainfo(a catApp) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>%[1]s</id>
  <name>%[2]s</name>
  <summary>%[3]s</summary>
  <description>
    <p>%[2]s is one of the bench's thousand apps. %[3]s, with a clean window and no fuss.</p>
    <p>It starts fast, remembers where you were, and works offline.</p>
  </description>
  <categories><category>%[4]s</category></categories>
  <developer_name>The Bench Project</developer_name>
  <project_license>MIT</project_license>
  <metadata_license>CC0-1.0</metadata_license>
  <releases><release version="1.0" date="2026-01-01"/></releases>
  <content_rating type="oars-1.1"/>
</component>
`, a.id, a.name, a.summary, a.category)
}

// buildApp writes an app's build directory and exports it.
func buildApp(ctx context.Context, r *store.Repo, dir string, k int, a catApp) error {
	if err := flatpak.BuildInit(dir, a.id, catRuntime, catRuntime, catRtVer); err != nil {
		return err
	}
	files := filepath.Join(dir, "files")
	ic, err := icon(k)
	if err != nil {
		return err
	}
	desktop := fmt.Sprintf("[Desktop Entry]\nType=Application\nName=%s\nComment=%s\nExec=run\nIcon=%s\nCategories=%s;\n", a.name, a.summary, a.id, a.category)
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"bin/run", []byte("#!/bin/sh\necho " + a.name + "\n"), 0o755},
		{"share/" + a.id + "/data.txt", bytes.Repeat([]byte(a.name+" data\n"), 2000), 0o644},
		{"share/metainfo/" + a.id + ".metainfo.xml", []byte(metainfo(a)), 0o644},
		{"share/applications/" + a.id + ".desktop", []byte(desktop), 0o644},
		{"share/icons/hicolor/64x64/apps/" + a.id + ".png", ic, 0o644},
	} {
		if err := writeFile(filepath.Join(files, f.path), f.data, f.mode); err != nil {
			return err
		}
	}
	if err := flatpak.BuildFinish(dir, "run", sandbox.NewContext()); err != nil {
		return err
	}
	_, _, err = commits.BuildExport(ctx, r, dir, commits.ExportOptions{Branch: catBranch})
	return err
}

func buildCatalogue(e *env, dir string) (*catalogue, error) {
	start := time.Now()
	c := &catalogue{dir: dir, apps: catalogueApps()}
	logf("center: building a catalogue of %d apps across %d remotes", catApps, catRemotes)
	errs := make([]error, catRemotes)
	var wg sync.WaitGroup
	for ri := 0; ri < catRemotes; ri++ {
		c.remotes = append(c.remotes, catRemote{name: fmt.Sprintf("bench%d", ri+1), repo: filepath.Join(dir, fmt.Sprintf("remote%d", ri+1), "repo")})
	}
	for ri := range c.remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[ri] = c.buildRemote(e, ri)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for ri := range c.remotes {
		if _, err := run(e, []string{e.arbor, "build-update-repo", c.remotes[ri].repo}); err != nil {
			return nil, err
		}
		srv, err := nginx.Start(filepath.Join(dir, fmt.Sprintf("nginx%d", ri+1)), c.remotes[ri].repo)
		if err != nil {
			return nil, err
		}
		c.remotes[ri].srv = srv
	}
	c.built = time.Since(start)
	logf("center: catalogue built and published in %.1fs", c.built.Seconds())
	return c, nil
}

// buildRemote exports the runtime and the remote's share of the apps.
func (c *catalogue) buildRemote(e *env, ri int) error {
	ctx := context.Background()
	rd := filepath.Dir(c.remotes[ri].repo)
	r, err := store.Init(c.remotes[ri].repo, store.ModeArchive)
	if err != nil {
		return err
	}
	defer r.Close()
	rt := filepath.Join(rd, "build", "runtime")
	meta := fmt.Sprintf("[Runtime]\nname=%[1]s\nruntime=%[1]s/%[2]s/%[3]s\nsdk=%[1]s/%[2]s/%[3]s\n", catRuntime, flatpak.Arch(), catRtVer)
	if err := writeFile(filepath.Join(rt, "metadata"), []byte(meta), 0o644); err != nil {
		return err
	}
	for _, f := range []string{"bin/sh", "lib/libbench.so", "share/bench/README"} {
		if err := writeFile(filepath.Join(rt, "usr", f), bytes.Repeat([]byte(strings.ToUpper(f)+"\n"), 4096), 0o755); err != nil {
			return err
		}
	}
	if _, _, err := commits.BuildExport(ctx, r, rt, commits.ExportOptions{Branch: catRtVer, Runtime: true}); err != nil {
		return err
	}
	for k, a := range c.apps {
		if a.remote != ri {
			continue
		}
		if err := buildApp(ctx, r, filepath.Join(rd, "build", a.id), k, a); err != nil {
			return fmt.Errorf("%s: %w", a.id, err)
		}
	}
	return os.RemoveAll(filepath.Join(rd, "build"))
}
