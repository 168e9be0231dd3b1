package apps

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/tests/testutil"
)

// A GTK app from Debian's packages (zenity), on a runtime made of the
// host's /usr (the part zenity uses), installed lazily from a served
// repo and run with --socket=x11 under Xvfb, then with --socket=wayland
// and no X11 under weston's headless compositor: its window is drawn.
// The screenshots go to ARBOR_SCREENSHOTS as gui-zenity.png and
// gui-zenity-wayland.png.
func TestGUIAppOnScreen(t *testing.T) {
	testutil.Privileged(t)
	for _, tool := range []string{"zenity", "Xvfb", "xwd", "cp"} {
		testutil.NeedTool(t, tool)
	}
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()

	rt := filepath.Join(dir, "rt")
	usr := filepath.Join(rt, "usr")
	testutil.WriteFile(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.test.GtkPlatform\nruntime=org.test.GtkPlatform/x86_64/1.0\n", 0o644)
	loaders, _ := filepath.Glob("/usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0/2.10.0/loaders/*.so")
	testutil.Must(t, testutil.CopyHostPrograms(usr, "sh", "zenity"))
	testutil.Must(t, testutil.CopyHostLibraries(usr, loaders...))
	var trees []string
	for _, p := range []string{"/usr/share/zenity", "/usr/share/icons/Adwaita", "/usr/share/icons/hicolor", "/usr/share/fonts",
		"/usr/share/fontconfig", "/usr/share/mime", "/usr/share/glib-2.0/schemas", "/usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0",
		"/usr/lib/locale/C.utf8", "/usr/lib/x86_64-linux-gnu/gconv", "/usr/share/X11/xkb", "/etc/fonts"} {
		if _, err := os.Stat(p); err == nil {
			trees = append(trees, p)
		}
	}
	testutil.Must(t, testutil.CopyHostTrees(usr, trees...))
	testutil.Must(t, os.MkdirAll(filepath.Join(rt, "files"), 0o755))
	app := filepath.Join(dir, "app")
	testutil.Run(t, arbor, "build-init", app, "org.test.Zenity", "org.test.GtkPlatform", "org.test.GtkPlatform", "1.0")
	testutil.WriteFile(t, filepath.Join(app, "files/bin/hello-gui"), "#!/bin/sh\nexec zenity --info --title=arbor --text='Hello from an arbor app'\n", 0o755)
	testutil.Run(t, arbor, "build-finish", app, "--command=hello-gui", "--socket=x11")
	srv := publishBuilt(t, arbor, dir, rt, app)
	inst := newInstallation(t, arbor, dir, "inst", srv.URL)
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.test.Zenity")
	testutil.Must(t, srv.ResetLog())

	display := startXvfb(t)
	run := exec.Command(arbor, "--repo="+inst, "run", "org.test.Zenity")
	run.Env = append(os.Environ(), "DISPLAY="+display)
	var out strings.Builder
	run.Stdout, run.Stderr = &out, &out
	testutil.Must(t, run.Start())

	// Drawn: the dialog's light background and its text on the black
	// root window.
	var img *image.RGBA
	var lit float64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		dump, err := exec.Command("xwd", "-root", "-silent", "-display", display).Output()
		if err != nil {
			continue
		}
		if img, err = testutil.DecodeXWD(dump); err != nil {
			t.Fatal(err)
		}
		if lit = litShare(img); lit > 0.02 {
			break
		}
	}
	if img == nil || lit <= 0.02 {
		t.Fatalf("no window drawn on %s after 60 s (%.1f%% of the screen lit); the app said:\n%s", display, 100*lit, out.String())
	}
	f, err := os.Create(filepath.Join(testutil.ShotDir(t), "gui-zenity.png"))
	testutil.Must(t, err)
	testutil.Must(t, png.Encode(f, img))
	testutil.Must(t, f.Close())
	run.Process.Kill()
	run.Wait()

	// The same app on Wayland, under weston's headless compositor.
	waylandRun(t, arbor, inst)

	// Lazily: the run fetched a part of the runtime, not all of it.
	sent, err := srv.BytesSent()
	testutil.Must(t, err)
	var total int64
	filepath.Walk(usr, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if sent >= total/2 {
		t.Errorf("the run fetched %d bytes of a %d-byte runtime", sent, total)
	}
}

// litShare is the share of pixels brighter than mid-grey.
func litShare(img *image.RGBA) float64 {
	n, lit := 0, 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		n++
		if int(img.Pix[i])+int(img.Pix[i+1])+int(img.Pix[i+2]) > 3*128 {
			lit++
		}
	}
	return float64(lit) / float64(n)
}

// startXvfb starts Xvfb on a free display and returns its name.
func startXvfb(t *testing.T) string {
	t.Helper()
	for n := 90; n < 140; n++ {
		sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		if _, err := os.Stat(sock); err == nil {
			continue
		}
		x := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", "640x480x24", "-nolisten", "tcp")
		testutil.Must(t, x.Start())
		t.Cleanup(func() { x.Process.Kill(); x.Wait() })
		for i := 0; i < 200; i++ {
			if _, err := os.Stat(sock); err == nil {
				return fmt.Sprintf(":%d", n)
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatalf("Xvfb :%d made no socket", n)
	}
	t.Fatal("no free X display between :90 and :139")
	return ""
}

// waylandRun runs the installed app with --socket=wayland and no X11
// under weston's headless compositor and waits for its window, seen as
// a change of weston's own screenshots; gui-zenity-wayland.png is saved.
func waylandRun(t *testing.T, arbor, inst string) {
	t.Helper()
	testutil.NeedTool(t, "weston")
	testutil.NeedTool(t, "weston-screenshooter")
	runtimeDir := filepath.Join(t.TempDir(), "run")
	testutil.Must(t, os.MkdirAll(runtimeDir, 0o700))
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir, "WAYLAND_DISPLAY=wayland-arbor")
	w := exec.Command("weston", "--backend=headless-backend.so", "--use-pixman", "--socket=wayland-arbor",
		"--width=640", "--height=480", "--idle-time=0", "--debug")
	w.Env = env
	var wlog strings.Builder
	w.Stdout, w.Stderr = &wlog, &wlog
	testutil.Must(t, w.Start())
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	shots := t.TempDir()
	shoot := func() *image.RGBA {
		ents, _ := os.ReadDir(shots)
		for _, e := range ents {
			os.Remove(filepath.Join(shots, e.Name()))
		}
		c := exec.Command("weston-screenshooter")
		c.Env, c.Dir = env, shots
		if c.Run() != nil {
			return nil
		}
		ents, _ = os.ReadDir(shots)
		for _, e := range ents {
			if f, err := os.Open(filepath.Join(shots, e.Name())); err == nil {
				img, err := png.Decode(f)
				f.Close()
				if err == nil {
					rgba := image.NewRGBA(img.Bounds())
					for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
						for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
							rgba.Set(x, y, img.At(x, y))
						}
					}
					return rgba
				}
			}
		}
		return nil
	}
	// The empty desktop, once the shell has drawn it: two screenshots
	// alike (but for the clock).
	var before *image.RGBA
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		shot := shoot()
		if shot != nil && before != nil && len(shot.Pix) == len(before.Pix) && changedShare(before, shot) < 0.01 {
			break
		}
		before = shot
	}
	if before == nil {
		t.Fatalf("no screenshot of weston's empty desktop:\n%s", wlog.String())
	}
	run := exec.Command(arbor, "--repo="+inst, "run", "--socket=wayland", "--socket=!x11", "org.test.Zenity")
	run.Env = env
	var out strings.Builder
	run.Stdout, run.Stderr = &out, &out
	testutil.Must(t, run.Start())
	defer func() { run.Process.Kill(); run.Wait() }()
	var after *image.RGBA
	changed := 0.0
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if after = shoot(); after != nil && len(after.Pix) == len(before.Pix) {
			if changed = changedShare(before, after); changed > 0.03 {
				break
			}
		}
	}
	if changed <= 0.03 {
		t.Fatalf("no window on Wayland after 60 s (%.1f%% of the screen changed); the app said:\n%s", 100*changed, out.String())
	}
	f, err := os.Create(filepath.Join(testutil.ShotDir(t), "gui-zenity-wayland.png"))
	testutil.Must(t, err)
	testutil.Must(t, png.Encode(f, after))
	testutil.Must(t, f.Close())
}

// changedShare is the share of pixels that differ between two images of
// one size.
func changedShare(a, b *image.RGBA) float64 {
	n, diff := 0, 0
	for i := 0; i+3 < len(a.Pix); i += 4 {
		n++
		if a.Pix[i] != b.Pix[i] || a.Pix[i+1] != b.Pix[i+1] || a.Pix[i+2] != b.Pix[i+2] {
			diff++
		}
	}
	return float64(diff) / float64(n)
}
