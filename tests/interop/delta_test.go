package interop

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// deltaTrees writes a first tree and a second made from it as updates
// are: files appended to, files replaced by others of a similar size
// (which ostree encodes with bsdiff), a file added, one removed, a
// symlink changed.
func deltaTrees(t *testing.T, dir string) (v1, v2 string) {
	t.Helper()
	v1, v2 = filepath.Join(dir, "v1"), filepath.Join(dir, "v2")
	bash, err := os.ReadFile("/bin/sh")
	testutil.Must(t, err)
	ls, err := os.ReadFile("/bin/ls")
	testutil.Must(t, err)
	for i := 1; i <= 20; i++ {
		n := min(len(bash), i*4000)
		testutil.WriteFile(t, filepath.Join(v1, "lib", "part"+string(rune('a'+i))+".so"), string(bash[:n]), 0o644)
	}
	testutil.WriteFile(t, filepath.Join(v1, "bin/tool"), string(bash), 0o755)
	testutil.WriteFile(t, filepath.Join(v1, "etc/conf"), "a=1\n", 0o644)
	testutil.Must(t, os.Symlink("../lib/partb.so", filepath.Join(v1, "bin/link")))
	testutil.Must(t, os.CopyFS(v2, os.DirFS(v1)))
	testutil.WriteFile(t, filepath.Join(v2, "lib/partc.so"), string(bash[:3*4000])+strings.Repeat("appended ", 300), 0o644)
	// A binary replaced by another of about its size: bsdiff.
	testutil.WriteFile(t, filepath.Join(v2, "bin/tool"), string(append(append([]byte{}, ls...), bash[:max(0, len(bash)-len(ls))]...)), 0o755)
	testutil.WriteFile(t, filepath.Join(v2, "etc/new"), strings.Repeat("new file\n", 500), 0o644)
	testutil.Must(t, os.Remove(filepath.Join(v2, "lib/partd.so")))
	testutil.Must(t, os.Remove(filepath.Join(v2, "bin/link")))
	testutil.Must(t, os.Symlink("../lib/parte.so", filepath.Join(v2, "bin/link")))
	return v1, v2
}

// ostreeDeltas publishes deltaTrees' two commits with ostree at
// dir/pub, with its deltas from scratch to the first and from the first
// to the second.
func ostreeDeltas(t *testing.T, e *env, dir string) (pub, c1, c2 string) {
	t.Helper()
	t1, t2 := deltaTrees(t, dir)
	pub = e.initRepo(t, "ostree", filepath.Join(dir, "pub"), "archive")
	c1 = e.commit(t, "ostree", pub, "main", t1)
	c2 = e.commit(t, "ostree", pub, "main", t2)
	e.run(t, "ostree", pub, "static-delta", "generate", "--empty", "--to="+c1)
	e.run(t, "ostree", pub, "static-delta", "generate", "--from="+c1, "--to="+c2)
	return pub, c1, c2
}

// Deltas that ostree generates (from scratch and from one commit to the
// next, with rollsum and bsdiff ops, inline or in parts) are listed and
// shown by arbor as ostree shows them, and applied offline to a
// bare-user repository: the trees are ostree's, fsck passes. A part that
// was tampered with is refused with the part named, and the commit is
// not left complete.
func TestStaticDeltasFromOstree(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	pub, c1, c2 := ostreeDeltas(t, e, dir)
	inl := e.initRepo(t, "ostree", filepath.Join(dir, "inline"), "archive")
	e.run(t, "ostree", inl, "pull-local", pub, c1, c2)
	e.run(t, "ostree", inl, "static-delta", "generate", "--inline", "--empty", "--to="+c2)

	if got, want := e.run(t, arborTool, pub, "static-delta", "list"), c1+"\n"+c1+"-"+c2+"\n"; got != want {
		t.Errorf("static-delta list:\n%s\nwant:\n%s", got, want)
	}
	for _, d := range []string{c1, c1 + "-" + c2} {
		ours := e.run(t, arborTool, pub, "static-delta", "show", d)
		theirs := e.run(t, "ostree", pub, "static-delta", "show", d)
		strip := func(s string) string {
			var keep []string
			for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
				if !strings.HasPrefix(l, "Timestamp:") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}
		if strip(ours) != strip(theirs) {
			t.Errorf("static-delta show %s:\n%s\nostree:\n%s", d, ours, theirs)
		}
		if d != c1 && !strings.Contains(ours, "bspatch=1") {
			t.Errorf("the update's delta has no bsdiff op to test:\n%s", ours)
		}
	}
	deltaDir := func(repo, name string) string {
		t.Helper()
		for _, p := range []string{"deltas/*/*-*", "deltas/*/*"} {
			ms, _ := filepath.Glob(filepath.Join(repo, p))
			for _, m := range ms {
				if (name == "update") == strings.Contains(filepath.Base(m), "-") {
					return m
				}
			}
		}
		t.Fatalf("no %s delta in %s", name, repo)
		return ""
	}

	local := e.initRepo(t, arborTool, filepath.Join(dir, "local"), "bare-user")
	e.run(t, arborTool, local, "static-delta", "apply-offline", deltaDir(pub, "scratch"))
	e.run(t, arborTool, local, "static-delta", "apply-offline", filepath.Join(deltaDir(pub, "update"), "superblock"))
	for _, c := range []string{c1, c2} {
		if a, o := e.run(t, arborTool, local, "ls", "-R", "-C", c, "/"), e.run(t, "ostree", pub, "ls", "-R", "-C", c, "/"); a != o {
			t.Errorf("commit %s after the deltas:\n%s\nostree's:\n%s", c, a, o)
		}
	}
	e.fsckOK(t, arborTool, local)
	e.fsckOK(t, "ostree", local)

	fromInline := e.initRepo(t, arborTool, filepath.Join(dir, "from-inline"), "bare-user")
	e.run(t, arborTool, fromInline, "static-delta", "apply-offline", deltaDir(inl, "scratch"))
	if a, o := e.run(t, arborTool, fromInline, "ls", "-R", "-C", c2, "/"), e.run(t, "ostree", pub, "ls", "-R", "-C", c2, "/"); a != o {
		t.Errorf("commit %s from an inline delta:\n%s\nostree's:\n%s", c2, a, o)
	}

	// One byte of a part changed: refused, naming it; nothing complete.
	bad := filepath.Join(dir, "bad")
	testutil.Must(t, os.CopyFS(bad, os.DirFS(deltaDir(pub, "scratch"))))
	part := filepath.Join(bad, "0")
	b, err := os.ReadFile(part)
	testutil.Must(t, err)
	b[len(b)/2] ^= 0x40
	testutil.Must(t, os.WriteFile(part, b, 0o644))
	victim := e.initRepo(t, arborTool, filepath.Join(dir, "victim"), "bare-user")
	_, stderr, err := e.runErr(arborTool, victim, "static-delta", "apply-offline", bad)
	if err == nil || !strings.Contains(stderr, "part 0") || !strings.Contains(stderr, "checksum") {
		t.Errorf("a tampered part: %v\n%s", err, stderr)
	}
	if _, _, err := e.runErr(arborTool, victim, "ls", "-C", c1, "/"); err == nil {
		t.Errorf("after the refused delta, commit %s is there", c1)
	}
	e.fsckOK(t, arborTool, victim)
}

// A pull uses the deltas ostree published (summary -u lists them and
// writes their indexes): from scratch for a first pull, from the ref's
// commit for the next, fetching no loose object; --disable-static-deltas
// fetches objects only. A tampered part makes the pull fall back to the
// objects with a warning naming it, or fail with --require-static-deltas.
func TestPullWithStaticDeltas(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	pub, c1, c2 := ostreeDeltas(t, e, dir)
	e.run(t, "ostree", pub, "summary", "-u")
	if a, o := e.run(t, arborTool, pub, "static-delta", "indexes"), e.run(t, "ostree", pub, "static-delta", "indexes"); a != o || !strings.Contains(a, c2) {
		t.Errorf("static-delta indexes:\n%s\nostree's:\n%s", a, o)
	}
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), pub)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)

	clone := func(name string) string {
		r := e.initRepo(t, arborTool, filepath.Join(dir, name), "bare-user")
		e.run(t, arborTool, r, "remote", "add", "--no-gpg-verify", "origin", srv.URL)
		return r
	}
	requests := func() (deltas, loose int) {
		t.Helper()
		reqs, err := srv.Requests()
		testutil.Must(t, err)
		for _, r := range reqs {
			switch {
			case strings.HasPrefix(r.Path, "/deltas/"):
				deltas++
			case strings.HasPrefix(r.Path, "/objects/") && !strings.HasSuffix(r.Path, ".commitmeta"):
				loose++
			}
		}
		testutil.Must(t, srv.ResetLog())
		return deltas, loose
	}
	requests()
	local := clone("local")
	e.run(t, arborTool, local, "pull", "--require-static-deltas", "origin", "main@"+c1)
	if d, l := requests(); d != 2 || l != 0 {
		t.Errorf("the first pull: %d delta files, %d loose objects fetched; want the scratch delta's superblock and part only", d, l)
	}
	e.run(t, arborTool, local, "pull", "--require-static-deltas", "origin", "main")
	if d, l := requests(); d != 2 || l != 0 {
		t.Errorf("the update: %d delta files, %d loose objects fetched; want the update's superblock and part only", d, l)
	}
	for _, c := range []string{c1, c2} {
		if a, o := e.run(t, arborTool, local, "ls", "-R", "-C", c, "/"), e.run(t, "ostree", pub, "ls", "-R", "-C", c, "/"); a != o {
			t.Errorf("commit %s pulled through deltas:\n%s\nostree's:\n%s", c, a, o)
		}
	}
	e.fsckOK(t, arborTool, local)

	plain := clone("plain")
	e.run(t, arborTool, plain, "pull", "--disable-static-deltas", "origin", "main")
	if d, l := requests(); d != 0 || l == 0 {
		t.Errorf("--disable-static-deltas: %d delta files, %d loose objects", d, l)
	}

	// The update's part tampered with.
	ms, _ := filepath.Glob(filepath.Join(pub, "deltas/*/*-*/0"))
	if len(ms) != 1 {
		t.Fatalf("the update's part: %v", ms)
	}
	b, err := os.ReadFile(ms[0])
	testutil.Must(t, err)
	b[len(b)/2] ^= 0x40
	testutil.Must(t, os.WriteFile(ms[0], b, 0o644))
	for _, require := range []bool{true, false} {
		r := clone(fmt.Sprintf("tampered-%v", require))
		e.run(t, arborTool, r, "pull", "origin", "main@"+c1)
		args := []string{"pull", "origin", "main"}
		if require {
			args = []string{"pull", "--require-static-deltas", "origin", "main"}
		}
		_, stderr, err := e.runErr(arborTool, r, args...)
		if require {
			if err == nil || !strings.Contains(stderr, "part 0") {
				t.Errorf("--require-static-deltas with a tampered part: %v\n%s", err, stderr)
			}
			continue
		}
		if err != nil || !strings.Contains(stderr, "warning: not using the static delta") || !strings.Contains(stderr, "part 0") {
			t.Errorf("a tampered part without --require-static-deltas: %v\n%s", err, stderr)
		}
		e.fsckOK(t, arborTool, r)
		if a, o := e.run(t, arborTool, r, "ls", "-R", "-C", c2, "/"), e.run(t, "ostree", pub, "ls", "-R", "-C", c2, "/"); a != o {
			t.Errorf("after falling back to objects:\n%s\nostree's:\n%s", a, o)
		}
	}
}

// Deltas arbor generates are ostree's format: ostree shows them as arbor
// does, applies them offline, and pulls through them over nginx once
// arbor's summary -u lists them, fetching no loose content; arbor's own
// pull takes them too.
func TestStaticDeltasToOstree(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	t1, t2 := deltaTrees(t, dir)
	// A text file appended to: blocks of its old version rebuild it
	// (the ELF files are bsdiffed).
	doc := strings.Repeat("a line of the manual, numbered for the index\n", 400)
	testutil.WriteFile(t, filepath.Join(t1, "share/manual.txt"), doc, 0o644)
	testutil.WriteFile(t, filepath.Join(t2, "share/manual.txt"), doc+"a new chapter\n", 0o644)
	// A library of 3 MiB, relinked: its bsdiff is scanned in segments,
	// and the parts that carry it are xz streams of several blocks.
	lib := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{3, 4}).Read(lib)
	copy(lib, "\x7fELF")
	relinked := append(append(append([]byte{}, lib[:3<<19]...), "32 bytes of new code, inserted.."...), lib[3<<19:]...)
	for i := 40; i < len(relinked); i += 64 {
		relinked[i]++
	}
	testutil.WriteFile(t, filepath.Join(t1, "lib/libbig.so"), string(lib), 0o755)
	testutil.WriteFile(t, filepath.Join(t2, "lib/libbig.so"), string(relinked), 0o755)
	// A changelog that gzip -9n compressed, a release added at its top:
	// arbor's alt part rebuilds it from the old text, ostree's part
	// carries it.
	var entries strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&entries, "  * release %d: fixed issue %d, reported in the tracker as %x\n", i, i*31%977, i*2654435761)
	}
	testutil.WriteFile(t, filepath.Join(t1, "share/doc/changelog.gz"), gzipN(t, entries.String()), 0o644)
	testutil.WriteFile(t, filepath.Join(t2, "share/doc/changelog.gz"), gzipN(t, "  * a new release\n"+entries.String()), 0o644)
	pub := e.initRepo(t, arborTool, filepath.Join(dir, "pub"), "archive")
	c1 := e.commit(t, arborTool, pub, "main", t1)
	c2 := e.commit(t, arborTool, pub, "main", t2)
	gen := e.run(t, arborTool, pub, "static-delta", "generate", "--to=main", "--json")
	if !strings.Contains(gen, `"rebuilt": `) || strings.Contains(gen, `"rebuilt": 0`) {
		t.Errorf("the update rebuilt no file from its old version:\n%s", gen)
	}
	if !strings.Contains(gen, `"bsdiff": `) || strings.Contains(gen, `"bsdiff": 0`) {
		t.Errorf("the update bsdiffed no executable:\n%s", gen)
	}
	if !strings.Contains(gen, `"gzip": 1,`) {
		t.Errorf("the update's changelog.gz is not rebuilt from its text:\n%s", gen)
	}
	if show := e.run(t, arborTool, pub, "static-delta", "show", c1+"-"+c2); !regexp.MustCompile(`bspatch=[1-9]`).MatchString(show) {
		t.Errorf("the update's delta has no bspatch op:\n%s", show)
	}
	e.run(t, arborTool, pub, "static-delta", "generate", "--empty", "--to="+c1)
	e.run(t, arborTool, pub, "static-delta", "generate", "--empty", "--inline", "--to="+c2, "--min-fallback-size=0")
	e.run(t, arborTool, pub, "summary", "-u")
	if a, o := e.run(t, arborTool, pub, "static-delta", "indexes"), e.run(t, "ostree", pub, "static-delta", "indexes"); a != o || !strings.Contains(a, c1) || !strings.Contains(a, c2) {
		t.Errorf("static-delta indexes of arbor's deltas:\n%s\nostree's:\n%s", a, o)
	}
	// (ostree's show cannot read inline parts, its own included.)
	for _, d := range []string{c1, c1 + "-" + c2} {
		ours := e.run(t, arborTool, pub, "static-delta", "show", d)
		theirs := e.run(t, "ostree", pub, "static-delta", "show", d)
		if strings.TrimSpace(ours) != strings.TrimSpace(theirs) {
			t.Errorf("static-delta show %s:\n%s\nostree:\n%s", d, ours, theirs)
		}
	}
	// ostree applies each from-scratch delta, the inline one too.
	for _, c := range []string{c1, c2} {
		repo := e.initRepo(t, "ostree", filepath.Join(dir, "offline-"+c[:8]), "bare-user")
		var found string
		ms, _ := filepath.Glob(filepath.Join(pub, "deltas/*/*"))
		for _, m := range ms {
			rel, _ := filepath.Rel(filepath.Join(pub, "deltas"), m)
			if !strings.Contains(rel, "-") && strings.Contains(e.run(t, arborTool, pub, "static-delta", "show", deltaName(t, rel)), "To: "+c) {
				found = m
			}
		}
		if found == "" {
			t.Fatalf("no delta from scratch to %s", c)
		}
		e.run(t, "ostree", repo, "static-delta", "apply-offline", found)
		e.fsckOK(t, "ostree", repo)
		if a, o := e.run(t, arborTool, pub, "ls", "-R", "-C", c, "/"), e.run(t, "ostree", repo, "ls", "-R", "-C", c, "/"); a != o {
			t.Errorf("ostree's apply-offline of arbor's delta to %s:\n%s\narbor's:\n%s", c, o, a)
		}
	}

	srv, err := nginx.Start(filepath.Join(dir, "nginx"), pub)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)
	client := e.initRepo(t, "ostree", filepath.Join(dir, "client"), "bare-user")
	e.run(t, "ostree", client, "remote", "add", "--no-gpg-verify", "origin", srv.URL)
	e.run(t, "ostree", client, "pull", "--disable-static-deltas", "origin", "main@"+c1)
	testutil.Must(t, srv.ResetLog())
	e.run(t, "ostree", client, "pull", "--require-static-deltas", "origin", "main")
	reqs, err := srv.Requests()
	testutil.Must(t, err)
	// (ostree 2022.7's pull walks the tree while it applies the delta and
	// fetches loose whatever is not written yet, its own deltas' objects
	// too: only the delta files' fetch is its choice of the delta.)
	deltaFiles := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/deltas/") {
			deltaFiles++
		}
		if strings.Contains(r.Path, "/alt-") {
			t.Errorf("ostree's pull fetched arbor's alt part %s", r.Path)
		}
	}
	// The superblock and the two parts: the .gz file's part is ostree's.
	if deltaFiles != 3 {
		t.Errorf("ostree's pull through arbor's delta fetched %d delta files, want 3", deltaFiles)
	}
	e.fsckOK(t, "ostree", client)
	if a, o := e.run(t, arborTool, pub, "ls", "-R", "-C", c2, "/"), e.run(t, "ostree", client, "ls", "-R", "-C", c2, "/"); a != o {
		t.Errorf("ostree's pull of %s through arbor's delta:\n%s\narbor's:\n%s", c2, o, a)
	}

	local := e.initRepo(t, arborTool, filepath.Join(dir, "local"), "bare-user")
	e.run(t, arborTool, local, "remote", "add", "--no-gpg-verify", "origin", srv.URL)
	e.run(t, arborTool, local, "pull", "--require-static-deltas", "origin", "main@"+c1)
	testutil.Must(t, srv.ResetLog())
	e.run(t, arborTool, local, "pull", "--require-static-deltas", "origin", "main")
	e.fsckOK(t, arborTool, local)
	// arbor fetched the alt part in place of the part it stands for.
	reqs, err = srv.Requests()
	testutil.Must(t, err)
	var got []string
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/deltas/") {
			got = append(got, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if slices.Sort(got); strings.Join(got, " ") != "0 alt-1 superblock" {
		t.Errorf("arbor's pull fetched the delta files %q, want 0, alt-1 and the superblock", got)
	}
	if a, o := e.run(t, arborTool, pub, "ls", "-R", "-C", c2, "/"), e.run(t, arborTool, local, "ls", "-R", "-C", c2, "/"); a != o {
		t.Errorf("arbor's pull of %s through its delta:\n%s\nthe repository's:\n%s", c2, o, a)
	}
}

// gzipN is text as gzip -9n compresses it, as Debian's packages ship
// their changelogs.
func gzipN(t *testing.T, text string) string {
	t.Helper()
	cmd := exec.Command("gzip", "-9n", "-c")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	testutil.Must(t, err)
	return string(out)
}

// deltaName is the hex name of the delta whose directory below deltas/
// is rel (XX/REST), from scratch.
func deltaName(t *testing.T, rel string) string {
	t.Helper()
	b, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(strings.ReplaceAll(rel, "/", ""), "_", "/"))
	if err != nil || len(b) != 32 {
		t.Fatalf("delta directory %s: %v", rel, err)
	}
	return hex.EncodeToString(b)
}
