package mount

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"arbor/mountd"
	"arbor/store"
	"arbor/tests/hostile"
	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// TestMountOfAHostileDAG mounts a served commit of 7 dirtrees and 16.7M
// directories: the daemon's background walk reads each dirtree once and
// ends, in little memory, with or without the commit's tree index; and
// the daemon goes once the mount does.
func TestMountOfAHostileDAG(t *testing.T) {
	e := setup(t)
	for _, withIndex := range []bool{false, true} {
		t.Run(map[bool]string{false: "walk", true: "tree-index"}[withIndex], func(t *testing.T) {
			dir := t.TempDir()
			pub := filepath.Join(dir, "pub")
			e.initRepo(t, pub, "archive")
			r, err := store.Open(pub)
			must(t, err)
			_, err = hostile.DAG{Fanout: 16, Levels: 6}.Commit(context.Background(), r, "main")
			must(t, r.Close())
			must(t, err)
			e.run(t, pub, "summary", "-u")
			if !withIndex {
				must(t, os.RemoveAll(filepath.Join(pub, "extensions", "arbor", "trees")))
			}
			srv, err := nginx.Start(filepath.Join(dir, "nginx"), pub)
			must(t, err)
			t.Cleanup(srv.Stop)
			repo := e.client(t, published{repo: pub, srv: srv})
			mp := e.mount(t, repo, "origin:main")

			for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
				ms := e.mounts(t, repo)
				if len(ms) == 1 && ms[0].Prefetch != nil && ms[0].Prefetch.Done {
					if ms[0].Prefetch.Error != "" {
						t.Fatalf("prefetch: %s", ms[0].Prefetch.Error)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the background walk of %s still runs after a minute", mp)
				}
			}
			ents, err := os.ReadDir(filepath.Join(mp, "a", "b"))
			must(t, err)
			if len(ents) != 16 {
				t.Errorf("/a/b lists %d entries, want 16", len(ents))
			}
			if rss := testutil.PeakRSS(t, daemonPid(t, repo)); rss > 200<<20 {
				t.Errorf("the daemon's peak RSS is %d MB, want under 200 MB", rss>>20)
			}
			e.run(t, repo, "umount", mp)
			for i := 0; mountd.DaemonPID(repo) != 0; i++ {
				if i > 200 {
					t.Fatal("the daemon is still running after its one mount went")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
