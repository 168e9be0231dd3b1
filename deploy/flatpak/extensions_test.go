package flatpak

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseExtensions(t *testing.T) {
	for _, c := range []struct {
		name, group string
		want        *ExtensionPoint // nil: dropped
		warning     string
	}{
		{"plain", "[Extension org.a.App.Lib]\ndirectory=lib/x\nadd-ld-path=lib\nversion=2\n",
			&ExtensionPoint{Name: "org.a.App.Lib", Directory: "lib/x", AddLdPath: "lib", Versions: []string{"2"}}, ""},
		{"tagged, versions over version", "[Extension org.a.GL@beta]\ndirectory=GL\nsubdirectories=true\nversion=1\nversions=1;2;\nmerge-dirs=vulkan/icd.d;\n",
			&ExtensionPoint{Name: "org.a.GL", Tag: "beta", Directory: "GL", Subdirectories: true, Versions: []string{"1", "2"}, MergeDirs: []string{"vulkan/icd.d"}}, ""},
		{"locale by name", "[Extension org.a.App.Locale]\ndirectory=share/runtime/locale\n",
			&ExtensionPoint{Name: "org.a.App.Locale", Directory: "share/runtime/locale", LocaleSubset: true, Autodelete: true}, ""},
		{"debug by name", "[Extension org.a.App.Debug]\ndirectory=lib/debug\n",
			&ExtensionPoint{Name: "org.a.App.Debug", Directory: "lib/debug", NoAutodownload: true, Autodelete: true}, ""},
		{"no directory", "[Extension org.a.X]\nversion=1\n", nil, "directory: missing"},
		{"directory climbs", "[Extension org.a.X]\ndirectory=a/../../etc\n", nil, "directory: \"a/../../etc\": climbs out"},
		{"absolute directory", "[Extension org.a.X]\ndirectory=/etc\n", nil, "an absolute path"},
		{"ld path climbs", "[Extension org.a.X]\ndirectory=x\nadd-ld-path=../../lib\n", nil, "add-ld-path"},
		{"suffix climbs", "[Extension org.a.X]\ndirectory=x\nsubdirectory-suffix=..\n", nil, "subdirectory-suffix"},
		{"merge dir climbs", "[Extension org.a.X]\ndirectory=x\nmerge-dirs=ok;../no;\n", nil, "merge-dirs"},
		{"bad name", "[Extension org..x]\ndirectory=x\n", nil, "name"},
		{"bad version", "[Extension org.a.X]\ndirectory=x\nversion=a/b\n", nil, "version"},
		{"bad boolean", "[Extension org.a.X]\ndirectory=x\nsubdirectories=maybe\n", nil, "subdirectories"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMetadata([]byte("[Application]\nname=org.a.App\nruntime=org.a.Platform/x86_64/1\n\n" + c.group))
			if err != nil {
				t.Fatal(err)
			}
			if c.want == nil {
				if len(m.Extensions) != 0 {
					t.Errorf("kept %+v", m.Extensions)
				}
				if len(m.Context.Warnings) != 1 || !strings.Contains(m.Context.Warnings[0], c.warning) || !strings.Contains(m.Context.Warnings[0], "[Extension ") {
					t.Errorf("warnings %q, want one with %q", m.Context.Warnings, c.warning)
				}
				return
			}
			if len(m.Extensions) != 1 || !reflect.DeepEqual(m.Extensions[0], *c.want) {
				t.Errorf("got %+v\nwant %+v", m.Extensions, *c.want)
			}
		})
	}
}

func TestExtensionMatches(t *testing.T) {
	rt := func(id, branch string) Ref { return Ref{Kind: Runtime, ID: id, Arch: "x86_64", Branch: branch} }
	offered := []Ref{rt("org.a.Lib", "1"), rt("org.a.Lib", "2"), rt("org.a.GL.default", "1"), rt("org.a.GL.nvidia-1", "1"),
		rt("org.a.GL.default", "2"), rt("org.a.GLX.other", "1"), {Kind: App, ID: "org.a.GL.app", Arch: "x86_64", Branch: "1"},
		{Kind: Runtime, ID: "org.a.GL.arm", Arch: "aarch64", Branch: "1"}, rt("org.a.Full", "1"), rt("org.a.Full.sub", "1")}
	for _, c := range []struct {
		name  string
		point ExtensionPoint
		want  []Ref
	}{
		{"the parent's branch", ExtensionPoint{Name: "org.a.Lib"}, []Ref{rt("org.a.Lib", "1")}},
		{"its version", ExtensionPoint{Name: "org.a.Lib", Versions: []string{"2"}}, []Ref{rt("org.a.Lib", "2")}},
		{"several versions", ExtensionPoint{Name: "org.a.Lib", Versions: []string{"2", "1", "3"}}, []Ref{rt("org.a.Lib", "2"), rt("org.a.Lib", "1")}},
		{"no subdirectories, no prefix", ExtensionPoint{Name: "org.a.GL"}, nil},
		{"subdirectories: runtimes of the arch and branch below the name", ExtensionPoint{Name: "org.a.GL", Subdirectories: true},
			[]Ref{rt("org.a.GL.default", "1"), rt("org.a.GL.nvidia-1", "1")}},
		{"the whole one before its parts", ExtensionPoint{Name: "org.a.Full", Subdirectories: true}, []Ref{rt("org.a.Full", "1")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.point.Matches("x86_64", "1", offered); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	c := Conditions{GLDrivers: []string{"nvidia-550-1", "default"}, GTKTheme: "Adwaita-dark", CurrentDesktop: []string{"GNOME", "ubuntu"},
		KernelModule: func(n string) bool { return n == "i915" || n == "kvm" }}
	for _, x := range []struct {
		id, reasons string
		def, want   bool
	}{
		{"org.a.GL.default", "", true, true},
		{"org.a.GL.default", "", false, false},
		{"org.a.GL.default", "active-gl-driver", false, true},
		{"org.a.GL.nvidia-550-1", "active-gl-driver", false, true},
		{"org.a.GL.nvidia-470-2", "active-gl-driver", true, false},
		{"org.a.Theme.Adwaita-dark", "active-gtk-theme", false, true},
		{"org.a.VAAPI.Intel", "have-intel-gpu", false, true},
		{"org.a.X", "have-kernel-module-kvm", false, true},
		{"org.a.X", "have-kernel-module-vboxdrv", true, false},
		{"org.a.X", "on-xdg-desktop-gnome", false, true},
		{"org.a.X", "on-xdg-desktop-kde", false, false},
		{"org.a.X", "on-xdg-desktop-kde;have-kernel-module-kvm", false, true},
		{"org.a.X", "something-new", true, false},
		{"nodots", "active-gl-driver", true, false},
	} {
		if got := c.Holds(x.id, x.reasons, x.def); got != x.want {
			t.Errorf("Holds(%q, %q, %v) = %v", x.id, x.reasons, x.def, got)
		}
	}
}

func TestRelatedRefs(t *testing.T) {
	rt := func(id, branch string) Ref { return Ref{Kind: Runtime, ID: id, Arch: "x86_64", Branch: branch} }
	app := Ref{Kind: App, ID: "org.a.App", Arch: "x86_64", Branch: "stable"}
	md, err := ParseMetadata([]byte("[Application]\nname=org.a.App\nruntime=org.a.Platform/x86_64/1\n\n" +
		"[Extension org.a.App.Locale]\ndirectory=share/runtime/locale\n\n[Extension org.a.App.Debug]\ndirectory=lib/debug\n\n" +
		"[Extension org.a.App.Opt]\ndirectory=opt\nno-autodownload=true\n\n[Extension org.a.App.Plugin]\ndirectory=p\nsubdirectories=true\nversion=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	offered := []Ref{rt("org.a.App.Locale", "stable"), rt("org.a.App.Debug", "stable"), rt("org.a.App.Opt", "stable"),
		rt("org.a.App.Plugin.X", "2"), rt("org.a.App.Plugin.Y", "stable")}
	names := func(rs []Related) (out []string) {
		for _, r := range rs {
			out = append(out, r.Ref.ID)
		}
		return out
	}
	if got := names(RelatedRefs(app, md, offered, nil, Conditions{})); !reflect.DeepEqual(got, []string{"org.a.App.Locale", "org.a.App.Plugin.X"}) {
		t.Errorf("a fresh install brings %v", got)
	}
	// Installed before, in any branch: kept up.
	installed := []Ref{rt("org.a.App.Opt", "old"), rt("org.a.App.Debug", "stable")}
	if got := names(RelatedRefs(app, md, offered, installed, Conditions{})); !reflect.DeepEqual(got, []string{"org.a.App.Locale", "org.a.App.Debug", "org.a.App.Opt", "org.a.App.Plugin.X"}) {
		t.Errorf("with some installed: %v", got)
	}
}
