//go:build linux && cgo

package fetch

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"arbor/store/delta"
	"arbor/store/delta/xzproc"
	"arbor/store/object"
)

// loggedHelper builds the decoding helper and returns a wrapper of it
// that notes each start in the returned log.
func loggedHelper(t *testing.T) (helper, log string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "real-"+xzproc.Name)
	if out, err := exec.Command("go", "build", "-o", bin, "arbor/cmd/arbor-unxz").CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", xzproc.Name, err, out)
	}
	log = filepath.Join(dir, "starts")
	helper = filepath.Join(dir, xzproc.Name)
	script := "#!/bin/sh\necho start >> " + log + "\nexec " + bin + "\n"
	if err := os.WriteFile(helper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return helper, log
}

// With the helper, a part is decoded as it downloads, and what it
// decoded is taken only once the part matches its verified superblock:
// a part replaced by another valid xz stream of the same size, which the
// helper decodes without complaint, is refused for its checksum, and
// nothing of it is stored.
func TestDeltaPullDecodedAsItComes(t *testing.T) {
	ctx := context.Background()
	helper, log := loggedHelper(t)
	p := publishTree(t, map[string]string{"a": strings.Repeat("alpha\n", 500), "dir/b": "beta"})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	changed := map[string]string{"a": strings.Repeat("alpha, changed\n", 500), "dir/b": "beta", "dir/c": strings.Repeat("gamma\n", 3000)}
	next := publishDelta(t, p, changed)
	part := filepath.Join(p.repo.Path(), delta.Dir(p.commit, next), "0")
	orig, err := os.ReadFile(part)
	if err != nil || len(orig) < 2 || orig[0] != 'x' {
		t.Fatalf("part 0 of the delta: %v (want an xz part)", err)
	}
	tampered := sameSizeStream(t, orig)
	if err := os.WriteFile(part, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}, RequireStaticDeltas: true, unxz: helper})
	if err == nil || !strings.Contains(err.Error(), "part 0") || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a part replaced by another xz stream: %v; want it refused for its checksum", err)
	}
	if starts, _ := os.ReadFile(log); !bytes.Contains(starts, []byte("start")) {
		t.Fatal("the helper never started: the test proves nothing")
	}
	if has, _ := r.HasObject(next, object.TypeCommit); has {
		t.Fatalf("commit %s stored from a refused delta", next)
	}
	if err := os.WriteFile(part, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(log)
	res, err := Pull(ctx, r, "origin", PullOptions{Refs: []string{"main"}, RequireStaticDeltas: true, unxz: helper})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeltaParts != 1 {
		t.Errorf("%d delta parts applied, want 1", res.DeltaParts)
	}
	if starts, _ := os.ReadFile(log); !bytes.Contains(starts, []byte("start")) {
		t.Error("the helper never started for the good part")
	}
	for name := range changed {
		want, err := p.repo.Lookup(next, "/"+name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Lookup(next, "/"+name)
		if err != nil {
			t.Fatalf("%s after the delta: %v", name, err)
		}
		if has, _ := r.HasObject(got.File, object.TypeFile); got.File != want.File || !has {
			t.Errorf("%s after the delta: %s (stored: %v), want %s", name, got.File, has, want.File)
		}
	}
}

// sameSizeStream is a part file as long as orig, holding a valid xz
// stream (and its padding) of a payload orig's differs from.
func sameSizeStream(t *testing.T, orig []byte) []byte {
	t.Helper()
	zr, err := xz.NewReader(bytes.NewReader(orig[1:]))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(payload); i++ {
		mod := bytes.Clone(payload)
		for j := 0; j <= i; j++ {
			mod[len(mod)-1-j] = 0
		}
		var b bytes.Buffer
		w, _ := xz.NewWriter(&b)
		w.Write(mod)
		w.Close()
		if pad := len(orig) - 1 - b.Len(); pad >= 0 && pad%4 == 0 && !bytes.Equal(mod, payload) {
			return append(append([]byte{'x'}, b.Bytes()...), make([]byte, pad)...)
		}
	}
	t.Fatal("no stream of the part's size")
	return nil
}
