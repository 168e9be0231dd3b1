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
		// The fake v1 file lists only the last process written, as the
		// kernel lists none of the exiting processes it was given: each
		// is written once, and follow ends.
		{name: "moved but not listed", procs: ptr("4242\n4243\n"), wantMove: "*"},
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
			if c.wantMove == "*" && (string(b) == "4242" || string(b) == "4243") {
				return // either: the map's order
			}
			if string(b) != c.wantMove {
				t.Errorf("moved %q, want %q", b, c.wantMove)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// A cgroup's limits read back as Limit writes them; "max" is none.
func TestReadLimits(t *testing.T) {
	cases := []struct {
		files map[string]string
		want  Limits
	}{
		{map[string]string{"memory.max": "max\n", "cpu.max": "max 100000\n", "pids.max": "max\n"}, Limits{}},
		{map[string]string{"memory.max": "67108864\n", "cpu.max": "50000 100000\n", "pids.max": "1\n"}, Limits{MemoryBytes: 64 << 20, CPUPercent: 50, Processes: 1}},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), "app-1")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range c.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := readLimits(dir); err != nil || got != c.want {
			t.Errorf("readLimits(%v) = %+v, %v; want %+v", c.files, got, err, c.want)
		}
	}
}
