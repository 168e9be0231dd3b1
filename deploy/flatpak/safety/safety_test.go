package safety

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"arbor/deploy/flatpak"
	"arbor/sandbox"
	"arbor/store/keyfile"
)

// grants parses a metadata file of org.example.Hello whose [Context] and
// bus policies are extra.
func grants(t *testing.T, extra string) Grants {
	t.Helper()
	m, err := flatpak.ParseMetadata([]byte("[Application]\nname=org.example.Hello\nruntime=org.example.Platform/x86_64/1.0\n" + extra))
	if err != nil {
		t.Fatal(err)
	}
	return FromMetadata(m)
}

func ids(ps []Permission) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name, metadata string
		ids            []string // in order
		level          Level
	}{
		{"none", "", []string{}, Safe},
		{"own bus names and portals", "[Session Bus Policy]\norg.example.Hello=own\norg.example.Hello.*=own\norg.mpris.MediaPlayer2.org.example.Hello=own\n" +
			"org.freedesktop.portal.Desktop=talk\norg.freedesktop.DBus=talk\norg.freedesktop.Notifications=none\n", []string{}, Safe},
		{"wayland and gpu", "[Context]\nsockets=wayland;fallback-x11;\ndevices=dri;\n",
			[]string{"device:dri", "socket:fallback-x11", "socket:wayland"}, Safe},
		{"network only", "[Context]\nshared=network;\n", []string{"shared:network"}, ProbablySafe},
		{"sound and input", "[Context]\nsockets=pulseaudio;\ndevices=input;\n", []string{"device:input", "socket:pulseaudio"}, ProbablySafe},
		{"x11", "[Context]\nsockets=x11;\n", []string{"socket:x11"}, PotentiallyUnsafe},
		{"fallback without wayland is x11", "[Context]\nsockets=fallback-x11;\n", []string{"socket:x11"}, PotentiallyUnsafe},
		{"home read", "[Context]\nfilesystems=home:ro;\n", []string{"filesystem:home:ro"}, PotentiallyUnsafe},
		{"downloads", "[Context]\nfilesystems=xdg-download;xdg-music/Mixes:ro;\n", []string{"filesystem:xdg-download:rw", "filesystem:xdg-music/Mixes:ro"}, PotentiallyUnsafe},
		{"host read", "[Context]\nfilesystems=host:ro;\n", []string{"filesystem:host:ro"}, PotentiallyUnsafe},
		{"host", "[Context]\nfilesystems=host;\nshared=network;\n", []string{"filesystem:host:rw", "shared:network"}, Unsafe},
		{"kde globals", "[Context]\nfilesystems=xdg-config/kdeglobals:ro;\n", []string{"filesystem:xdg-config/kdeglobals:ro"}, Safe},
		{"overrides", "[Context]\nfilesystems=xdg-data/flatpak/overrides:create;\n", []string{"filesystem:xdg-data/flatpak/overrides:rw"}, Unsafe},
		{"flatpak portal escape", "[Session Bus Policy]\norg.freedesktop.Flatpak=talk\n", []string{"session-bus:org.freedesktop.Flatpak"}, Unsafe},
		{"dconf", "[Session Bus Policy]\nca.desrt.dconf=talk\n", []string{"session-bus:ca.desrt.dconf"}, PotentiallyUnsafe},
		{"other names", "[Session Bus Policy]\norg.freedesktop.Notifications=talk\n[System Bus Policy]\norg.freedesktop.NetworkManager=talk\n",
			[]string{"session-bus:org.freedesktop.Notifications", "system-bus:org.freedesktop.NetworkManager"}, PotentiallyUnsafe},
		{"full session bus hides names", "[Context]\nsockets=session-bus;\n[Session Bus Policy]\norg.freedesktop.Notifications=talk\n",
			[]string{"socket:session-bus"}, Unsafe},
		{"ssh agent", "[Context]\nsockets=ssh-auth;\n", []string{"socket:ssh-auth"}, Unsafe},
		{"devices and features", "[Context]\ndevices=all;kvm;usb;\nfeatures=devel;multiarch;bluetooth;canbus;\n",
			[]string{"device:all", "device:kvm", "device:usb", "feature:bluetooth", "feature:canbus", "feature:devel", "feature:multiarch"}, PotentiallyUnsafe},
		{"persistent", "[Context]\npersistent=.mozilla;\n", []string{"persistent:.mozilla"}, Safe},
		{"denials grant nothing", "[Context]\nshared=!network;\nfilesystems=!home;\n", []string{}, Safe},
		{"host os", "[Context]\nfilesystems=host-os:ro;host-etc:ro;/srv/data;\n",
			[]string{"filesystem:/srv/data:rw", "filesystem:host-etc:ro", "filesystem:host-os:ro"}, PotentiallyUnsafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := DescribeGrants(grants(t, tc.metadata))
			if got := ids(ps); !slices.Equal(got, tc.ids) {
				t.Errorf("ids %q, want %q", got, tc.ids)
			}
			if l := Rate(ps); l != tc.level {
				t.Errorf("rated %s, want %s", l, tc.level)
			}
			for _, p := range ps {
				if p.Label == "" || p.Detail == "" {
					t.Errorf("%s has no words: %+v", p.ID, p)
				}
			}
		})
	}
}

func TestDescribeContext(t *testing.T) {
	if ps := DescribeGrants(Grants{Context: sandbox.NewContext()}); ps == nil || len(ps) != 0 || Rate(ps) != Safe {
		t.Errorf("an empty context: %v", ps)
	}
	if ps := DescribeGrants(Grants{}); len(ps) != 0 {
		t.Errorf("a nil context: %v", ps)
	}
	kf, err := keyfile.ParseBytes([]byte("[Context]\nfilesystems=host;\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sandbox.ParseContext(kf)
	if err != nil {
		t.Fatal(err)
	}
	ps := DescribeGrants(Grants{Context: c})
	if len(ps) != 1 || ps[0].Level != Unsafe || !strings.Contains(ps[0].Label, "all files") {
		t.Errorf("host: %+v", ps)
	}
}

func TestAdded(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		ids            []string
	}{
		{"same", "[Context]\nshared=network;\n", "[Context]\nshared=network;\n", []string{}},
		{"fewer", "[Context]\nshared=network;\nsockets=x11;\n", "[Context]\nshared=network;\n", []string{}},
		{"more", "[Context]\nshared=network;\n", "[Context]\nshared=network;\nsockets=x11;\n", []string{"socket:x11"}},
		{"read to write", "[Context]\nfilesystems=home:ro;\n", "[Context]\nfilesystems=home;\n", []string{"filesystem:home:rw"}},
		{"write to read", "[Context]\nfilesystems=home;\n", "[Context]\nfilesystems=home:ro;\n", []string{}},
		{"inside home", "[Context]\nfilesystems=home;\n", "[Context]\nfilesystems=xdg-download;~/Projects:ro;\n", []string{}},
		{"outside home", "[Context]\nfilesystems=home;\n", "[Context]\nfilesystems=/srv;xdg-run/pipewire-0;\n",
			[]string{"filesystem:/srv:rw", "filesystem:xdg-run/pipewire-0:rw"}},
		{"inside host", "[Context]\nfilesystems=host;\n", "[Context]\nfilesystems=/srv;home;\n", []string{}},
		{"a device under all", "[Context]\ndevices=all;\n", "[Context]\ndevices=all;kvm;\n", []string{}},
		{"lost wayland", "[Context]\nsockets=wayland;fallback-x11;\n", "[Context]\nsockets=fallback-x11;\n", []string{"socket:x11"}},
		{"talk to own", "[Session Bus Policy]\norg.example.Other=talk\n", "[Session Bus Policy]\norg.example.Other=own\n", []string{"session-bus:org.example.Other"}},
		{"names under the whole bus", "[Context]\nsockets=session-bus;\n", "[Session Bus Policy]\norg.freedesktop.Flatpak=talk\n", []string{}},
		{"escape", "", "[Session Bus Policy]\norg.freedesktop.Flatpak=talk\n", []string{"session-bus:org.freedesktop.Flatpak"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(AddedGrants(grants(t, tc.old), grants(t, tc.new)))
			if !slices.Equal(got, tc.ids) {
				t.Errorf("added %q, want %q", got, tc.ids)
			}
		})
	}
	if ps := AddedGrants(Grants{}, Grants{Context: sandbox.NewContext()}); ps == nil || len(ps) != 0 {
		t.Errorf("nothing added: %v", ps)
	}
	if ws := AddedWords(nil, nil); len(ws) != 0 {
		t.Errorf("nothing added in words: %v", ws)
	}
}

func TestLevelJSON(t *testing.T) {
	for l, want := range map[Level]string{Safe: `"safe"`, ProbablySafe: `"probably-safe"`, PotentiallyUnsafe: `"potentially-unsafe"`, Unsafe: `"unsafe"`} {
		b, err := json.Marshal(l)
		if err != nil || string(b) != want {
			t.Errorf("%d: %s %v, want %s", l, b, err, want)
		}
		var back Level
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("%s back: %d %v", b, back, err)
		}
	}
	if _, err := json.Marshal(Level(9)); err == nil {
		t.Error("level 9 marshalled")
	}
	var l Level
	if err := json.Unmarshal([]byte(`"bad"`), &l); err == nil {
		t.Error(`"bad" unmarshalled`)
	}
	b, _ := json.Marshal(Permission{ID: "shared:network", Label: "Network access", Detail: "d", Level: ProbablySafe})
	if string(b) != `{"id":"shared:network","label":"Network access","detail":"d","level":"probably-safe"}` {
		t.Errorf("permission JSON %s", b)
	}
}
