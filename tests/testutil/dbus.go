package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bus is a private dbus-daemon with its services, ended with the test.
type Bus struct {
	Address string // unix:path=...
	dir     string
}

// StartBus starts a dbus-daemon on a socket in dir, with the session
// bus's configuration, and one echo service (dbus-test-tool echo: every
// call answered) per name in echo, and waits until each name is owned.
func StartBus(t testing.TB, dir string, echo ...string) *Bus {
	t.Helper()
	NeedTool(t, "dbus-daemon")
	NeedTool(t, "dbus-test-tool")
	NeedTool(t, "dbus-send")
	Must(t, os.MkdirAll(dir, 0o755))
	b := &Bus{Address: "unix:path=" + filepath.Join(dir, "bus"), dir: dir}
	d := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+b.Address)
	Must(t, d.Start())
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	waitFor(t, "the bus at "+b.Address, func() bool { return b.Send("org.freedesktop.DBus.ListNames") == nil })
	for _, name := range echo {
		s := exec.Command("dbus-test-tool", "echo", "--session", "--name="+name)
		s.Env = b.Env(os.Environ())
		Must(t, s.Start())
		t.Cleanup(func() { s.Process.Kill(); s.Wait() })
		waitFor(t, name+" on the bus", func() bool { return b.Owned(name) })
	}
	return b
}

// Env is env with the bus as the session bus.
func (b *Bus) Env(env []string) []string {
	return append(env, "DBUS_SESSION_BUS_ADDRESS="+b.Address)
}

// Send calls a method of the bus itself, with arguments in dbus-send's
// TYPE:VALUE form.
func (b *Bus) Send(method string, args ...string) error {
	_, err := b.send(method, args...)
	return err
}

func (b *Bus) send(method string, args ...string) (string, error) {
	cmd := exec.Command("dbus-send", append([]string{"--session", "--print-reply", "--dest=org.freedesktop.DBus",
		"/org/freedesktop/DBus", method}, args...)...)
	cmd.Env = b.Env(os.Environ())
	out, err := cmd.Output()
	return string(out), err
}

// Owned says whether name has an owner on the bus.
func (b *Bus) Owned(name string) bool {
	out, err := b.send("org.freedesktop.DBus.NameHasOwner", "string:"+name)
	return err == nil && strings.Contains(out, "boolean true")
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}

// StartPortal starts Debian's xdg-desktop-portal on the bus and waits
// for it to own its name.
func (b *Bus) StartPortal(t testing.TB) {
	t.Helper()
	const bin = "/usr/libexec/xdg-desktop-portal"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (tests/deps.sh installs xdg-desktop-portal)", bin, err)
	}
	p := exec.Command(bin, "--replace")
	p.Env = b.Env(os.Environ())
	Must(t, p.Start())
	t.Cleanup(func() { p.Process.Kill(); p.Wait() })
	waitFor(t, "xdg-desktop-portal on the bus", func() bool { return b.Owned("org.freedesktop.portal.Desktop") })
}

// StartDocumentPortal starts Debian's xdg-document-portal on the bus,
// its FUSE mount at runtimeDir/doc, ended and unmounted with the test.
func (b *Bus) StartDocumentPortal(t testing.TB, runtimeDir string) {
	t.Helper()
	const bin = "/usr/libexec/xdg-document-portal"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (tests/deps.sh installs xdg-desktop-portal)", bin, err)
	}
	p := exec.Command(bin, "--replace")
	p.Env = append(b.Env(os.Environ()), "XDG_RUNTIME_DIR="+runtimeDir)
	Must(t, p.Start())
	t.Cleanup(func() {
		p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.Process.Kill()
			<-done
		}
		exec.Command("fusermount3", "-u", "-z", filepath.Join(runtimeDir, "doc")).Run() // if it left its mount
	})
	waitFor(t, "xdg-document-portal on the bus", func() bool { return b.Owned("org.freedesktop.portal.Documents") })
}
