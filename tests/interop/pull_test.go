package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// publisher is a signed, published archive repo served by nginx.
type publisher struct {
	repo, url string
	commit    string
	key       testutil.GPGKey
}

// publish makes an archive repo with tool, commits the fixture to "main",
// signs commit and summary with a new key, and serves it with nginx.
func publish(t *testing.T, e *env, tool string) publisher {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "tree")
	for p, c := range map[string]string{"etc/os-release": "ID=arbor\n", "usr/bin/tool": "#!/bin/sh\necho hi\n",
		"usr/share/doc/big": strings.Repeat("arbor ", 50000), "empty": ""} {
		mustWrite(t, filepath.Join(src, p), c, 0o644)
	}
	must(t, os.Symlink("../usr/bin/tool", filepath.Join(src, "etc/link")))
	repo := e.initRepo(t, tool, filepath.Join(dir, "repo"), "archive")
	key := testutil.NewGPGKey(t, "Arbor Publisher")
	c := e.commit(t, tool, repo, "main", src, "--owner-uid=0", "--owner-gid=0", "--no-xattrs")
	e.run(t, tool, repo, "gpg-sign", "--gpg-homedir="+key.Home, c, key.ID)
	e.run(t, tool, repo, "summary", "-u", "--gpg-sign="+key.ID, "--gpg-homedir="+key.Home)
	return publisher{repo: repo, url: testutil.Nginx(t, repo), commit: c, key: key}
}

// client makes an empty bare-user repo with tool and adds the publisher as
// remote "origin" with commit and summary verification on.
func client(t *testing.T, e *env, tool string, p publisher, keyFile string) string {
	t.Helper()
	repo := e.initRepo(t, tool, filepath.Join(t.TempDir(), "client"), "bare-user")
	e.run(t, tool, repo, "remote", "add", "--gpg-import="+keyFile, "--set=gpg-verify-summary=true", "origin", p.url)
	return repo
}

func TestPullAcrossTools(t *testing.T) {
	e := setup(t)
	testutil.NeedTool(t, "gpg")
	for _, pub := range []string{ostreeTool, arborTool} {
		for _, cli := range []string{arborTool, ostreeTool} {
			t.Run(pub+"-publishes-"+cli+"-pulls", func(t *testing.T) {
				p := publish(t, e, pub)
				repo := client(t, e, cli, p, p.key.Public)
				e.run(t, cli, repo, "pull", "origin", "main")
				if got := strings.TrimSpace(e.run(t, cli, repo, "rev-parse", "origin:main")); got != p.commit {
					t.Fatalf("pulled %s, published %s", got, p.commit)
				}
				e.fsckOK(t, arborTool, repo)
				e.fsckOK(t, ostreeTool, repo)
				a := filepath.Join(t.TempDir(), "a")
				b := filepath.Join(t.TempDir(), "b")
				e.run(t, cli, repo, "checkout", "-U", "origin:main", a)
				e.run(t, pub, p.repo, "checkout", "-U", "main", b)
				sameTree(t, "checkout of the pulled commit", b, a, testutil.ManifestOpts{SkipXattr: skipOstreeMeta})
			})
		}
	}
}

// TestPullRefusals: both tools refuse what ostree refuses, and arbor names
// the object or file at fault and leaves no ref behind.
func TestPullRefusals(t *testing.T) {
	e := setup(t)
	testutil.NeedTool(t, "gpg")
	cases := []struct {
		name   string
		break_ func(t *testing.T, p publisher) (keyFile string)
		want   string // in arbor's error
	}{
		{"tampered object", func(t *testing.T, p publisher) string {
			// Flip a byte inside the compressed payload of the largest object.
			var big string
			var size int64
			for _, rel := range objectFiles(t, p.repo) {
				f := filepath.Join(p.repo, "objects", rel)
				if st, err := os.Stat(f); err == nil && strings.HasSuffix(f, ".filez") && st.Size() > size {
					big, size = f, st.Size()
				}
			}
			b, err := os.ReadFile(big)
			must(t, err)
			b[len(b)-10] ^= 0xff
			must(t, os.WriteFile(big, b, 0o644))
			return p.key.Public
		}, ".file"},
		{"tampered summary", func(t *testing.T, p publisher) string {
			f := filepath.Join(p.repo, "summary")
			b, _ := os.ReadFile(f)
			b[len(b)-1] ^= 0x01
			must(t, os.WriteFile(f, b, 0o644))
			return p.key.Public
		}, "summary"},
		{"unknown key", func(t *testing.T, p publisher) string {
			return testutil.NewGPGKey(t, "Someone Else").Public
		}, "key"},
		{"unsigned commit", func(t *testing.T, p publisher) string {
			must(t, os.Remove(objectPath(p.repo, p.commit, "commitmeta")))
			return p.key.Public
		}, "no signatures"},
	}
	for _, tc := range cases {
		for _, cli := range []string{arborTool, ostreeTool} {
			t.Run(tc.name+"/"+cli, func(t *testing.T) {
				p := publish(t, e, arborTool)
				key := tc.break_(t, p)
				repo := client(t, e, cli, p, key)
				if tc.name == "unsigned commit" {
					// Summary verification would stop the pull first; this
					// case is about the commit.
					e.run(t, cli, repo, "remote", "delete", "origin")
					e.run(t, cli, repo, "remote", "add", "--gpg-import="+key, "origin", p.url)
				}
				_, errOut, err := e.runErr(cli, repo, "pull", "origin", "main")
				if err == nil {
					t.Fatalf("%s pulled despite: %s", cli, tc.name)
				}
				if cli == arborTool && !strings.Contains(strings.ToLower(errOut), strings.ToLower(tc.want)) {
					t.Errorf("arbor's error does not mention %q:\n%s", tc.want, errOut)
				}
				if _, _, err := e.runErr(cli, repo, "rev-parse", "origin:main"); err == nil {
					t.Errorf("%s wrote the ref after a refused pull", cli)
				}
				e.fsckOK(t, arborTool, repo)
			})
		}
	}
}

func TestPullLocalAndMirror(t *testing.T) {
	e := setup(t)
	testutil.NeedTool(t, "gpg")
	p := publish(t, e, arborTool)
	// pull-local from the publisher into a bare-user repo.
	local := e.initRepo(t, arborTool, filepath.Join(t.TempDir(), "local"), "bare-user")
	e.run(t, arborTool, local, "pull-local", p.repo, "main")
	if got := strings.TrimSpace(e.run(t, arborTool, local, "rev-parse", "main")); got != p.commit {
		t.Fatalf("pull-local gave %s, want %s", got, p.commit)
	}
	e.fsckOK(t, ostreeTool, local)
	// A mirror pull into an archive repo keeps refs/heads and the signed summary.
	mirror := e.initRepo(t, arborTool, filepath.Join(t.TempDir(), "mirror"), "archive")
	e.run(t, arborTool, mirror, "remote", "add", "--gpg-import="+p.key.Public, "origin", p.url)
	e.run(t, arborTool, mirror, "pull", "--mirror", "origin", "main")
	if got := readRef(t, mirror, "main"); got != p.commit {
		t.Fatalf("mirror ref %s, want %s", got, p.commit)
	}
	// As ostree's: a mirror of some refs keeps its own summary (none).
	if _, err := os.Stat(filepath.Join(mirror, "summary")); !os.IsNotExist(err) {
		t.Errorf("a mirror of one ref took the summary: %v", err)
	}
	e.run(t, arborTool, mirror, "pull", "--mirror", "origin")
	for _, f := range []string{"summary", "summary.sig"} {
		want, _ := os.ReadFile(filepath.Join(p.repo, f))
		got, err := os.ReadFile(filepath.Join(mirror, f))
		if err != nil || string(got) != string(want) {
			t.Errorf("mirror's %s differs from the publisher's (%v)", f, err)
		}
	}
	e.fsckOK(t, ostreeTool, mirror)
	// The mirror serves ostree in turn.
	url := testutil.Nginx(t, mirror)
	cl := e.initRepo(t, ostreeTool, filepath.Join(t.TempDir(), "cl"), "bare-user")
	e.run(t, ostreeTool, cl, "remote", "add", "--gpg-import="+p.key.Public, "--set=gpg-verify-summary=true", "m", url)
	e.run(t, ostreeTool, cl, "pull", "m", "main")
	e.fsckOK(t, ostreeTool, cl)
}

func TestPullDepthAndMetadataOnly(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "tree")
	repo := e.initRepo(t, arborTool, filepath.Join(dir, "repo"), "archive")
	var commits []string
	for i := 0; i < 3; i++ {
		mustWrite(t, filepath.Join(src, "f"), strings.Repeat("v", i+1), 0o644)
		commits = append(commits, e.commit(t, arborTool, repo, "main", src))
	}
	e.run(t, arborTool, repo, "summary", "-u")
	url := testutil.Nginx(t, repo)
	for _, cli := range []string{arborTool, ostreeTool} {
		t.Run(cli, func(t *testing.T) {
			c := e.initRepo(t, cli, filepath.Join(t.TempDir(), "c"), "bare-user")
			e.run(t, cli, c, "remote", "add", "--no-gpg-verify", "origin", url)
			e.run(t, cli, c, "pull", "--commit-metadata-only", "--depth=1", "origin", "main")
			if !hasObject(c, commits[2], "commit") || !hasObject(c, commits[1], "commit") || hasObject(c, commits[0], "commit") {
				t.Errorf("%s --depth=1 did not fetch exactly the last two commits", cli)
			}
			if !fileExists(filepath.Join(c, "state", commits[2]+".commitpartial")) {
				t.Errorf("%s left no commitpartial marker after --commit-metadata-only", cli)
			}
			// Both fscks accept a partial commit.
			e.fsckOK(t, arborTool, c)
			e.fsckOK(t, ostreeTool, c)
			e.run(t, cli, c, "pull", "origin", "main")
			if fileExists(filepath.Join(c, "state", commits[2]+".commitpartial")) {
				t.Errorf("%s left the commit partial after a full pull", cli)
			}
			e.fsckOK(t, ostreeTool, c)
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestPullFullDisk: running out of space stops the pull with a clear error
// and leaves a repo both fscks accept, with no ref.
func TestPullFullDisk(t *testing.T) {
	testutil.Privileged(t)
	e := setup(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "tree")
	for i := 0; i < 8; i++ {
		// Incompressible content, so the archive repo stays big.
		b := make([]byte, 1<<20)
		x := uint32(i + 1)
		for j := range b {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[j] = byte(x)
		}
		mustWrite(t, filepath.Join(src, "f"+string(rune('0'+i))), string(b), 0o644)
	}
	pub := e.initRepo(t, arborTool, filepath.Join(dir, "pub"), "archive")
	e.commit(t, arborTool, pub, "main", src)
	e.run(t, arborTool, pub, "summary", "-u")
	url := testutil.Nginx(t, pub)

	small := filepath.Join(dir, "small")
	must(t, os.MkdirAll(small, 0o755))
	testutil.Run(t, "mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", small)
	defer testutil.Run(t, "umount", small)
	cl := e.initRepo(t, arborTool, filepath.Join(small, "client"), "bare-user")
	e.run(t, arborTool, cl, "remote", "add", "--no-gpg-verify", "origin", url)
	_, errOut, err := e.runErr(arborTool, cl, "pull", "origin", "main")
	if err == nil {
		t.Fatal("pull into a full filesystem succeeded")
	}
	if !strings.Contains(errOut, "no space left on device") {
		t.Errorf("error does not say the disk is full:\n%s", errOut)
	}
	if _, _, err := e.runErr(arborTool, cl, "rev-parse", "origin:main"); err == nil {
		t.Error("ref written by a failed pull")
	}
	e.fsckOK(t, arborTool, cl)
	e.fsckOK(t, ostreeTool, cl)
}
