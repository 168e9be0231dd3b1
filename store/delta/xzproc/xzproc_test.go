//go:build linux && cgo

package xzproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// The test binary is also the locked-down child of TestLockDown.
func TestMain(m *testing.M) {
	if os.Getenv("XZPROC_TEST_PROBE") == "1" {
		os.Exit(probe())
	}
	os.Exit(m.Run())
}

// probe locks itself down and tries what a decoder taken over would:
// each line it prints is a call and its result.
func probe() int {
	if err := lockDown(); err != nil {
		fmt.Println("lockDown", err)
		return 1
	}
	try := func(name string, err error) { fmt.Printf("%s %v\n", name, err) }
	_, err := unix.Open("/etc/hostname", unix.O_RDONLY, 0)
	try("open", err)
	_, err = unix.Open(".", unix.O_WRONLY|unix.O_CREAT, 0o644)
	try("create", err)
	_, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	try("socket", err)
	try("kill", unix.Kill(os.Getppid(), 0))
	try("tgkill", unix.Tgkill(os.Getppid(), os.Getppid(), 0))
	try("execve", unix.Exec("/bin/true", []string{"true"}, nil))
	try("ptrace", unix.PtraceAttach(os.Getppid()))
	_, err = unix.IoctlGetInt(0, unix.TIOCOUTQ)
	try("ioctl", err)
	// A process of its own (a fork): were it made, the copy leaves at once.
	r, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && r == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	if e == 0 {
		try("fork", nil)
	} else {
		try("fork", e)
	}
	_, err = unix.Write(1, []byte("write ok\n"))
	try("write", err)
	return 0
}

func TestLockDown(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "XZPROC_TEST_PROBE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	for _, call := range []string{"open", "create", "socket", "kill", "tgkill", "execve", "ptrace", "ioctl", "fork"} {
		if got[call] != unix.EPERM.Error() {
			t.Errorf("%s in the locked-down helper: %q, want %q", call, got[call], unix.EPERM.Error())
		}
	}
	if got["write"] != "<nil>" || !strings.Contains(string(out), "write ok") {
		t.Errorf("write in the locked-down helper: %q", got["write"])
	}
}

func buildHelper(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), Name)
	if out, err := exec.Command("go", "build", "-o", p, "arbor/cmd/arbor-unxz").CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", Name, err, out)
	}
	return p
}

func compress(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecoder(t *testing.T) {
	helper := buildHelper(t)
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = "abcdefgh\n"[rng.IntN(9)]
	}
	z := compress(t, data)
	flipped := bytes.Clone(z)
	flipped[len(flipped)/2] ^= 0x40
	for _, c := range []struct {
		name    string
		in      []byte
		max     uint64
		wantErr string // "" for data back
	}{
		{"whole", z, uint64(len(data)), ""},
		{"padded", append(bytes.Clone(z), 0, 0, 0, 0), uint64(len(data)), ""},
		{"over the bound", z, uint64(len(data)) - 1, "more than"},
		{"corrupt", flipped, uint64(len(data)), "status"},
		{"cut short", z[:len(z)-100], uint64(len(data)), "short"},
		{"bytes after", append(bytes.Clone(z), 1, 2, 3, 4), uint64(len(data)), "after the stream"},
		{"odd padding", append(bytes.Clone(z), 0, 0), uint64(len(data)), "after the stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := Start(context.Background(), helper)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			if err := d.Begin(c.max); err != nil {
				t.Fatal(err)
			}
			for in := c.in; len(in) > 0; {
				k := min(len(in), 1+rng.IntN(100<<10))
				if _, err := d.Write(in[:k]); err != nil {
					break // it stopped early: Finish says why
				}
				in = in[k:]
			}
			out, err := d.Finish()
			switch {
			case c.wantErr == "" && (err != nil || !bytes.Equal(out, data)):
				t.Fatalf("got %d bytes, %v; want the %d bytes back", len(out), err, len(data))
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("got %d bytes, %v; want an error with %q", len(out), err, c.wantErr)
			}
		})
	}
	// Fed slowly, as a link does, the helper lives for seconds: its
	// runtime's timers, scavenger and monitor run under the filter too.
	t.Run("slowly", func(t *testing.T) {
		d, err := Start(context.Background(), helper)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Stop()
		if err := d.Begin(uint64(len(data))); err != nil {
			t.Fatal(err)
		}
		step := len(z)/20 + 1
		for in := z; len(in) > 0; in = in[min(step, len(in)):] {
			if _, err := d.Write(in[:min(step, len(in))]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(120 * time.Millisecond)
		}
		if out, err := d.Finish(); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("got %d bytes, %v; want the %d bytes back", len(out), err, len(data))
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		d, err := Start(ctx, helper)
		if err != nil {
			t.Fatal(err)
		}
		d.Begin(uint64(len(data)))
		d.Write(z[:1000])
		cancel()
		if _, err := d.Finish(); err == nil {
			t.Fatal("a cancelled decoder's Finish gave no error")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		d, err := Start(context.Background(), helper)
		if err != nil {
			t.Fatal(err)
		}
		d.Begin(uint64(len(data)))
		d.Write(z[:1000])
		d.Stop()
		if _, err := d.Finish(); err == nil {
			t.Fatal("a stopped decoder's Finish gave no error")
		}
	})
	t.Run("not begun", func(t *testing.T) {
		d, err := Start(context.Background(), helper)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Finish(); err == nil {
			t.Fatal("Finish without Begin gave no error")
		}
	})
	if _, err := Start(context.Background(), filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start of a missing helper: %v", err)
	}
}
