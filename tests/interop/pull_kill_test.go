package interop

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stagedFiles lists the objects staged in repo's transactions, as paths
// under objects/.
func stagedFiles(t *testing.T, repo string) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(repo, "tmp", "arbor-staging-*"))
	var out []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				rel, _ := filepath.Rel(d, p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	return out
}

// TestPullKilledThenResumed: a pull killed with SIGKILL leaves a repo both
// fscks accept and no ref; the next pull fetches only what is missing,
// whether what the killed one fetched was published or only staged
// (then it is checked again and taken in).
func TestPullKilledThenResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := setup(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "tree")
	for i := 0; i < 3000; i++ {
		mustWrite(t, filepath.Join(src, fmt.Sprintf("d%02d/f%04d", i%50, i)), fmt.Sprintf("file %d\n", i), 0o644)
	}
	pub := e.initRepo(t, arborTool, filepath.Join(dir, "pub"), "archive")
	commit := e.commit(t, arborTool, pub, "main", src)
	e.run(t, arborTool, pub, "summary", "-u")

	var mu sync.Mutex
	hits := map[string]int{}
	delay := time.Duration(0)
	files := http.FileServer(http.Dir(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		d := delay
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/objects/") {
			time.Sleep(d)
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name  string
		delay time.Duration // per object: how fast the killed pull goes
		// killAt says when to kill, and lists what the pull had then
		// (paths under objects/).
		killAt func(cl string) ([]string, bool)
		// inFlight is how many of those may be fetched again: objects
		// being written when the kill came.
		inFlight int
	}{
		{"objects published", 60 * time.Millisecond, func(cl string) ([]string, bool) {
			have := objectFiles(t, cl)
			return have, len(have) >= 500
		}, 0},
		{"objects only staged", 3 * time.Millisecond, func(cl string) ([]string, bool) {
			staged := stagedFiles(t, cl)
			return staged, len(objectFiles(t, cl)) == 0 && len(staged) >= 300
		}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			delay = tc.delay
			mu.Unlock()
			cl := e.initRepo(t, arborTool, filepath.Join(dir, "client-"+strings.ReplaceAll(tc.name, " ", "-")), "bare-user")
			e.run(t, arborTool, cl, "remote", "add", "--no-gpg-verify", "origin", srv.URL)
			cmd := exec.Command(e.arbor, "--repo="+cl, "pull", "origin", "main")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var had []string
			deadline := time.Now().Add(60 * time.Second)
			for {
				h, now := tc.killAt(cl)
				if now {
					had = h
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the pull did not get where it is to be killed")
				}
				time.Sleep(time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()

			if _, _, err := e.runErr(arborTool, cl, "rev-parse", "origin:main"); err == nil {
				t.Fatal("ref written by a killed pull")
			}
			if !fileExists(filepath.Join(cl, "state", commit+".commitpartial")) {
				t.Error("no commitpartial marker for the interrupted commit")
			}
			e.fsckOK(t, arborTool, cl)
			e.fsckOK(t, ostreeTool, cl)

			have := map[string]bool{}
			for _, rel := range had {
				have["/objects/"+strings.Replace(rel, ".file", ".filez", 1)] = true
			}
			mu.Lock()
			hits = map[string]int{}
			delay = 0
			mu.Unlock()
			e.run(t, arborTool, cl, "pull", "origin", "main")
			mu.Lock()
			refetched := 0
			fetched := 0
			for p := range hits {
				if strings.HasPrefix(p, "/objects/") {
					fetched++
					if have[p] && !strings.HasSuffix(p, ".commitmeta") && !strings.HasSuffix(p, ".commit") {
						refetched++
					}
				}
			}
			mu.Unlock()
			if refetched > tc.inFlight {
				t.Errorf("the resumed pull fetched %d objects it already had (of %d fetched; %d were kept)", refetched, fetched, len(have))
			}
			if fetched == 0 || fetched >= 3000 {
				t.Errorf("the resumed pull fetched %d objects", fetched)
			}
			if got := strings.TrimSpace(e.run(t, arborTool, cl, "rev-parse", "origin:main")); got != commit {
				t.Fatalf("ref %s, want %s", got, commit)
			}
			if fileExists(filepath.Join(cl, "state", commit+".commitpartial")) {
				t.Error("commit still marked partial after the resumed pull")
			}
			e.fsckOK(t, arborTool, cl)
			e.fsckOK(t, ostreeTool, cl)
		})
	}
}
