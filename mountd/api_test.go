package mountd

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A daemon that holds the repository's lock but restores its mounts
// before it listens is waited for: the one EnsureDaemon starts finds the
// lock taken and exits at once, and that is no failure.
func TestEnsureDaemonWaitsForOneStarting(t *testing.T) {
	repo := t.TempDir()
	if err := os.MkdirAll(dataDir(repo), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(lockPath(repo), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	lock.WriteString("1\n")
	go func() {
		time.Sleep(300 * time.Millisecond) // restoring
		ln, err := listenPrivate(SocketPath(repo))
		if err != nil {
			t.Error(err)
			return
		}
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("[]")) }))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := EnsureDaemon(ctx, repo, []string{"true"}); err != nil {
		t.Fatalf("with a daemon starting: %v", err)
	}

	// With no daemon at all, a started one that exits is an error.
	other := t.TempDir()
	if _, err := EnsureDaemon(ctx, other, []string{"true"}); err == nil {
		t.Fatal("a daemon that exited at once was taken as answering")
	}
}
