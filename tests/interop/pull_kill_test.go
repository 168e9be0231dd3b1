package interop

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPullKilledThenResumed: a pull killed with SIGKILL leaves a repo both
// fscks accept and no ref; the next pull fetches only what is missing.
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
	slow := true
	files := http.FileServer(http.Dir(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		s := slow
		mu.Unlock()
		if s && strings.HasPrefix(r.URL.Path, "/objects/") {
			time.Sleep(60 * time.Millisecond)
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()

	cl := e.initRepo(t, arborTool, filepath.Join(dir, "client"), "bare-user")
	e.run(t, arborTool, cl, "remote", "add", "--no-gpg-verify", "origin", srv.URL)
	cmd := exec.Command(e.arbor, "--repo="+cl, "pull", "origin", "main")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once part of the objects have been made durable.
	deadline := time.Now().Add(60 * time.Second)
	for len(objectFiles(t, cl)) < 500 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("pull made no progress")
		}
		time.Sleep(20 * time.Millisecond)
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
	for _, rel := range objectFiles(t, cl) {
		have["/objects/"+strings.Replace(rel, ".file", ".filez", 1)] = true
	}
	mu.Lock()
	hits = map[string]int{}
	slow = false
	mu.Unlock()
	e.run(t, arborTool, cl, "pull", "origin", "main")
	mu.Lock()
	refetched := 0
	fetched := 0
	for p := range hits {
		if strings.HasPrefix(p, "/objects/") {
			fetched++
			if have[p] && !strings.HasSuffix(p, ".commitmeta") {
				refetched++
			}
		}
	}
	mu.Unlock()
	if refetched > 0 {
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
}
