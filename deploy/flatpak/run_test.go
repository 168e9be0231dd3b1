package flatpak

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/sandbox"
	"arbor/store/object"
)

// Plan finds the app and its runtime and layers permissions as flatpak:
// only the runtime's environment, the app's metadata, the overrides, the
// command line.
func TestPlanLayersPermissions(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(filepath.Join(repo, "refs", "heads"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := NewInstallation(repo)
	arch := Arch()
	app := Ref{Kind: App, ID: "org.example.Hello", Arch: arch, Branch: "1.0"}
	rt := Ref{Kind: Runtime, ID: "org.example.Platform", Arch: arch, Branch: "1.0"}
	var c1, c2 object.Checksum
	c1[0], c2[0] = 1, 2
	must(t, in.Deploy(rt, c1, "origin", []byte("[Runtime]\nname=org.example.Platform\n\n[Context]\nshared=network;\n\n[Environment]\nFROM_RT=yes\nLAYER=runtime\n")))
	must(t, in.Deploy(app, c2, "origin", []byte("[Application]\nname=org.example.Hello\nruntime=org.example.Platform/"+arch+"/1.0\ncommand=hello\n\n[Context]\nsockets=wayland;\nshared=ipc;\n\n[Environment]\nLAYER=app\n")))
	over := sandbox.NewContext()
	over.Shared["ipc"] = false
	over.Env["LAYER"] = "override"
	must(t, in.SetOverride(app.ID, over))
	cli := sandbox.NewContext()
	cli.Sockets["x11"] = true

	p, err := in.Plan(RunRequest{Name: "org.example.Hello", Perms: cli})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ref != app || p.Runtime.Ref != rt || p.Command != "hello" || len(p.Lazy) != 2 {
		t.Fatalf("plan: %+v", p)
	}
	if p.Perms.Shared["network"] || p.Perms.Shared["ipc"] || !p.Perms.Sockets["wayland"] || !p.Perms.Sockets["x11"] ||
		p.Perms.Env["FROM_RT"] != "yes" || p.Perms.Env["LAYER"] != "override" {
		t.Fatalf("permissions: %+v", p.Perms)
	}
	info := string(p.Info(sandbox.Spec{App: "/a", Runtime: "/r"}, "1234"))
	for _, want := range []string{"name=org.example.Hello", "runtime=" + rt.String(), "app-commit=" + c2.String(), "sockets=wayland;x11;", "instance-id=1234"} {
		if !strings.Contains(info, want) {
			t.Errorf("flatpak-info lacks %q:\n%s", want, info)
		}
	}
	if _, err := in.Plan(RunRequest{Name: "org.example.Hello", Branch: "2.0"}); err == nil {
		t.Error("planned a branch that is not installed")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
