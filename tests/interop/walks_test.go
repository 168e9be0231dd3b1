package interop

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"arbor/store"
	"arbor/tests/hostile"
	"arbor/tests/testutil"
)

// countWriter counts what a command prints.
type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// TestLsOfAHostileDAGStopsOnSignal lists a commit of 7 dirtrees and
// 16.7M directories: the listing streams in little memory, and a signal
// ends it at once, with the signal's exit status.
func TestLsOfAHostileDAGStopsOnSignal(t *testing.T) {
	t.Parallel()
	arbor := testutil.BuildArbor(t)
	repo := filepath.Join(t.TempDir(), "repo")
	r, err := store.Init(repo, store.ModeArchive)
	must(t, err)
	_, err = hostile.DAG{Fanout: 16, Levels: 6}.Commit(context.Background(), r, "dag")
	must(t, r.Close())
	must(t, err)

	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGTERM, []string{"ls", "-R", "dag"}},
		{syscall.SIGINT, []string{"ls", "-R", "dag"}},
		{syscall.SIGTERM, []string{"ls", "-R", "--json", "dag"}},
	} {
		t.Run(tc.sig.String()+"/"+strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(arbor, append([]string{"--repo=" + repo}, tc.args...)...)
			out := &countWriter{}
			var errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = out, &errOut
			must(t, cmd.Start())
			ended := make(chan error, 1)
			go func() { ended <- cmd.Wait() }()
			// A second, then the peak memory so far and the signal.
			time.Sleep(time.Second)
			hwm := testutil.PeakRSS(t, cmd.Process.Pid)
			printed := out.n.Load()
			must(t, cmd.Process.Signal(tc.sig))
			sent := time.Now()
			select {
			case err = <-ended:
			case <-time.After(30 * time.Second):
				// It stops within milliseconds; a listing that does not
				// stop would run for hours.
				cmd.Process.Kill()
				<-ended
				t.Fatalf("arbor %s still running 30 s after %v", strings.Join(tc.args, " "), tc.sig)
			}
			t.Logf("ended %v after the signal; %d bytes printed in the first second; peak RSS %d MB", time.Since(sent), printed, hwm>>20)
			if code := exitCode(err); code != 128+int(tc.sig) {
				t.Errorf("exit status %d (%v), want %d", code, err, 128+int(tc.sig))
			}
			if !strings.Contains(errOut.String(), "cancelled by SIG") {
				t.Errorf("stderr does not say it was cancelled:\n%s", tail(errOut.String()))
			}
			if printed == 0 {
				t.Error("nothing printed in the first second: the listing does not stream")
			}
			if hwm > 200<<20 {
				t.Errorf("peak RSS %d MB, want under 200 MB", hwm>>20)
			}
		})
	}
}
