package fetch

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/object"
)

// TestPullRefreshesSignatures: a commit pulled before it was signed
// takes the signature on the next pull, and a remote that verifies still
// refuses detached metadata it cannot check; a damaged copy upstream does
// not stop a remote that does not verify.
func TestPullRefreshesSignatures(t *testing.T) {
	key := newKey(t, "Publisher")
	tests := []struct {
		name     string
		verify   bool
		damage   bool // serve garbage as the commit's detached metadata
		wantErr  bool
		wantSigs int
	}{
		{name: "unverified remote takes the new signature", wantSigs: 1},
		{name: "verifying remote takes the new signature", verify: true, wantSigs: 1},
		{name: "unverified remote ignores damaged metadata", damage: true, wantSigs: 0},
		{name: "verifying remote refuses damaged metadata", verify: true, damage: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := publishTree(t, map[string]string{"a": "x"})
			// First pull, unsigned, by a client that does not verify.
			r := trustClient(t, p, nil)
			if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
				t.Fatal(err)
			}
			if err := p.repo.SignCommit(context.Background(), p.commit, signer(key)); err != nil {
				t.Fatal(err)
			}
			if tt.damage {
				p.set(object.Path(p.commit, object.TypeCommitMeta, true), func(w http.ResponseWriter, _ *http.Request) bool {
					w.Write([]byte("borkborkbork\n"))
					return true
				})
			}
			if tt.verify {
				// The same client, now trusting the key.
				var pub bytes.Buffer
				if err := key.Serialize(&pub); err != nil {
					t.Fatal(err)
				}
				kf := filepath.Join(t.TempDir(), "key.gpg")
				if err := os.WriteFile(kf, pub.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := AddRemote(r, "origin", p.srv.URL, AddOptions{Force: true, GPGImport: kf}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("second pull: err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			sigs, err := r.CommitSignatures(p.commit)
			if err != nil {
				t.Fatal(err)
			}
			if len(sigs) != tt.wantSigs {
				t.Errorf("%d signatures after the second pull, want %d", len(sigs), tt.wantSigs)
			}
		})
	}
}
