package interop

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"arbor/store/object"
	"arbor/tests/testutil"
)

// genBigTree writes about 200 MB in a few thousand files of deterministic
// content (ChaCha8 with a fixed seed is specified, so stable across Go
// versions): half the files random, half compressible, some of 4 MiB.
func genBigTree(t *testing.T, root string) int64 {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{'a', 'r', 'b', 'o', 'r'})
	sizes := rand.New(rand.NewChaCha8([32]byte{'s', 'i', 'z', 'e'}))
	buf := make([]byte, 4<<20)
	var total int64
	for i := 0; i < 3000; i++ {
		size := 1024 + sizes.IntN(96<<10)
		if i%300 == 0 {
			size = 4 << 20
		}
		b := buf[:size]
		_, _ = rng.Read(b) // never fails
		if i%2 == 0 {
			// Text-like: eight letters, deflate gets it to about a third.
			for j := range b {
				b[j] = 'a' + b[j]&7
			}
		}
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("s%d", i%7), fmt.Sprintf("f%05d", i))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, b, 0o644))
		total += int64(size)
	}
	// arbor syncs the filesystem when it commits; flush the new tree now
	// so that cost does not land on the measured run only.
	syscall.Sync()
	return total
}

// verifyLooseObjects checks that every object file in an archive repo is
// whole and has the checksum it is named by: fsck only reads objects that
// commits reach, and a killed commit leaves objects that none reaches.
// It only reports with t.Errorf, so it may run on its own goroutine.
func verifyLooseObjects(t *testing.T, repo string, files []string) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan string)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range work {
				if err := verifyLoose(filepath.Join(repo, "objects", rel), rel); err != nil {
					t.Errorf("object %s: %v", rel, err)
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
}

func verifyLoose(path, rel string) error {
	dir, name := filepath.Split(rel)
	sum, typ, archive, ok := object.ParseLooseName(strings.TrimSuffix(dir, "/"), name)
	if !ok {
		return fmt.Errorf("not an object name")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if typ != object.TypeFile {
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		if got := object.Sha256(b); got != sum {
			return fmt.Errorf("content hashes to %s", got)
		}
		return nil
	}
	if !archive {
		return fmt.Errorf("a bare content object in an archive repo")
	}
	var d object.Decompressor
	h, _, r, err := d.ReadArchive(f)
	if err != nil {
		return err
	}
	hs := object.NewContentHash(&h)
	if _, err := io.Copy(hs, r); err != nil {
		return err
	}
	if got := object.SumHash(hs); got != sum {
		return fmt.Errorf("content hashes to %s", got)
	}
	return nil
}

// TestKillDuringCommit SIGKILLs a large arbor commit at points spread over
// its run, and at the moment its objects start to appear, and wants a repo
// that both fscks pass, holding only whole objects, with the ref absent or
// complete; then an uninterrupted commit over the wreckage.
func TestKillDuringCommit(t *testing.T) {
	// Not parallel: the kill points are fractions of a measured run time.
	e := setup(t)
	if testing.Short() {
		t.Skip("large commit; skipped in -short mode")
	}
	start := time.Now()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	total := genBigTree(t, src)
	t.Logf("generated %d MB in %v", total>>20, time.Since(start).Round(time.Millisecond))

	commitArgs := func(repo string) []string {
		return []string{"--repo=" + repo, "commit", "-b", "big", "--tree=dir=" + src, "-s", "big", "--timestamp=@1700000000"}
	}
	// An uninterrupted commit gives the checksum every complete commit
	// must have, and the time scale of the kill points.
	ref := e.initRepo(t, arborTool, filepath.Join(tmp, "reference"), "archive")
	t0 := time.Now()
	want := strings.TrimSpace(testutil.Run(t, e.arbor, commitArgs(ref)...))
	runtimeFull := time.Since(t0)
	t.Logf("uninterrupted commit: %v, %s", runtimeFull.Round(time.Millisecond), want)
	must(t, os.RemoveAll(ref))

	type point struct {
		name  string
		delay time.Duration // kill after this long, or
		// trigger, polled, kills when it returns true.
		trigger func(repo string) bool
	}
	objectDirs := func(repo string) int {
		ents, _ := os.ReadDir(filepath.Join(repo, "objects"))
		return len(ents)
	}
	var points []point
	const n = 8
	for i := range n {
		d := runtimeFull * time.Duration(2*i+1) / (2 * n)
		points = append(points, point{name: fmt.Sprintf("at-%02d-of-16", 2*i+1), delay: d})
	}
	// Objects are moved into objects/ only at the end, in a short window
	// the fixed delays may miss; these catch it as it happens.
	points = append(points,
		point{name: "first-object-visible", trigger: func(r string) bool { return objectDirs(r) > 0 }},
		// Objects land in random objects/XX dirs: all 256 exist after
		// about 256·H(256) ≈ 1570 of the 3323 objects, mid-way.
		point{name: "all-object-dirs-visible", trigger: func(r string) bool { return objectDirs(r) >= 256 }},
		// The commit object is moved last; the ref is written after it.
		point{name: "commit-object-visible", trigger: func(r string) bool { return hasObject(r, want, "commit") }},
	)

	// The final commit runs over the repo a kill left half moved into
	// objects/ (with its staging directory); the other repos go when checked.
	const keep = "all-object-dirs-visible"
	var wreck string
	for i, p := range points {
		t.Run(p.name, func(t *testing.T) {
			repo := e.initRepo(t, arborTool, filepath.Join(tmp, fmt.Sprintf("repo-%02d", i)), "archive")
			cmd := exec.Command(e.arbor, commitArgs(repo)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			must(t, cmd.Start())
			started := time.Now()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var exited bool
			var waitErr error
			if p.trigger == nil {
				select {
				case waitErr = <-done:
					exited = true
				case <-time.After(p.delay):
				}
			} else {
				deadline := time.Now().Add(3 * runtimeFull)
			poll:
				for !p.trigger(repo) {
					select {
					case waitErr = <-done:
						exited = true
						break poll
					default:
					}
					if time.Now().After(deadline) {
						break
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
			if !exited {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				waitErr = <-done
			}
			t.Logf("after %v: exited by itself: %v (%v), %d object files, ref %q %s", time.Since(started).Round(time.Millisecond),
				exited, waitErr, len(objectFiles(t, repo)), readRef(t, repo, "big"), strings.TrimSpace(stderr.String()))
			if exited && waitErr != nil {
				t.Errorf("commit failed on its own: %v\n%s", waitErr, stderr.String())
			}

			// The checks only read the repo: run them side by side.
			got := readRef(t, repo, "big")
			if got != "" && got != want {
				t.Errorf("ref big points at %s, want nothing or %s", got, want)
			}
			if got == "" && exited && waitErr == nil {
				t.Errorf("commit finished but ref big is missing")
			}
			var wg sync.WaitGroup
			check := func(f func()) {
				wg.Add(1)
				go func() { defer wg.Done(); f() }()
			}
			started = time.Now()
			check(func() { e.fsckOK(t, arborTool, repo) })
			check(func() { e.fsckOK(t, ostreeTool, repo) })
			if got == want {
				// Complete: the fscks read every object; it must check out.
				check(func() {
					dest := filepath.Join(t.TempDir(), "co")
					if _, errOut, err := e.runErr(arborTool, repo, "checkout", "-U", "big", dest); err != nil {
						t.Errorf("checkout of the ref left by a killed commit: %v\n%s", err, errOut)
					}
				})
			} else {
				// No commit reaches what was left: check every object here.
				files := objectFiles(t, repo)
				check(func() { verifyLooseObjects(t, repo, files) })
			}
			wg.Wait()
			t.Logf("checks took %v", time.Since(started).Round(time.Millisecond))
			if p.name == keep {
				wreck = repo
			} else if !t.Failed() {
				must(t, os.RemoveAll(repo))
			}
		})
	}

	t.Run("final-commit", func(t *testing.T) {
		if wreck == "" {
			t.Skip("no repo left by the kill points")
		}
		got := strings.TrimSpace(testutil.Run(t, e.arbor, commitArgs(wreck)...))
		if got != want {
			t.Errorf("commit after the kills: %s, want %s", got, want)
		}
		var wg sync.WaitGroup
		for _, tool := range []string{arborTool, ostreeTool} {
			wg.Add(1)
			go func() { defer wg.Done(); e.fsckOK(t, tool, wreck) }()
		}
		dest := filepath.Join(tmp, "final-co")
		_, errOut, err := e.runErr(arborTool, wreck, "checkout", "-U", "big", dest)
		wg.Wait()
		if err != nil {
			t.Fatalf("checkout of the final commit: %v\n%s", err, errOut)
		}
		sameTree(t, "checkout of the final commit vs the source", src, dest, testutil.ManifestOpts{})
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
