package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

// follow moves an instance's processes into a v1 cgroup, and an
// instance that ended meanwhile (its cgroup gone, as a limit on its
// processes can make it) is nothing left to move, not an error.
func TestFollow(t *testing.T) {
	cases := []struct {
		name     string
		procs    *string // the instance's cgroup.procs; nil: its cgroup is gone
		wantErr  bool
		wantMove string
	}{
		{name: "ended", procs: nil},
		{name: "empty", procs: ptr("")},
		{name: "one process", procs: ptr("4242\n"), wantMove: "4242"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, v1 := filepath.Join(t.TempDir(), "app-1"), t.TempDir()
			if c.procs != nil {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(*c.procs), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(v1, "cgroup.procs"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			err := follow(dir, v1)
			if (err != nil) != c.wantErr {
				t.Fatalf("follow: %v", err)
			}
			b, _ := os.ReadFile(filepath.Join(v1, "cgroup.procs"))
			if string(b) != c.wantMove {
				t.Errorf("moved %q, want %q", b, c.wantMove)
			}
		})
	}
}

func ptr(s string) *string { return &s }
