package safety

import (
	"encoding/json"
	"strings"
	"testing"

	"arbor/sandbox"
	"arbor/store/keyfile"
)

func context(t *testing.T, meta string) *sandbox.Context {
	t.Helper()
	kf, err := keyfile.Parse(strings.NewReader("[Context]\n" + meta))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sandbox.ParseContext(kf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRate(t *testing.T) {
	tests := []struct {
		name, meta string
		want       Level
		ids        []string
	}{
		{"nothing", "", Safe, []string{"none"}},
		{"wayland only", "sockets=wayland;", Safe, []string{"sockets=wayland"}},
		{"sound and graphics", "sockets=wayland;pulseaudio;\ndevices=dri;", ProbablySafe, []string{"sockets=pulseaudio", "sockets=wayland", "devices=dri"}},
		{"network", "shared=network;", PotentiallyUnsafe, []string{"shared=network"}},
		{"x11 and its fallback", "sockets=x11;fallback-x11;", PotentiallyUnsafe, []string{"sockets=x11"}},
		{"downloads", "filesystems=xdg-download;", PotentiallyUnsafe, []string{"filesystems=xdg-download"}},
		{"home read-only", "filesystems=home:ro;", Unsafe, []string{"filesystems=home:ro"}},
		{"the host", "filesystems=host;", Unsafe, []string{"filesystems=host"}},
		{"the session bus", "sockets=session-bus;", Unsafe, []string{"sockets=session-bus"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := Describe(context(t, tc.meta))
			if got := Rate(ps); got != tc.want {
				t.Errorf("rated %s, want %s (%+v)", got, tc.want, ps)
			}
			var ids []string
			for _, p := range ps {
				ids = append(ids, p.ID)
				if p.Label == "" {
					t.Errorf("%s has no words", p.ID)
				}
			}
			if len(ids) != len(tc.ids) {
				t.Fatalf("ids %v, want %v", ids, tc.ids)
			}
			for i := range ids {
				if ids[i] != tc.ids[i] {
					t.Errorf("ids %v, want %v", ids, tc.ids)
				}
			}
		})
	}
}

func TestDescribeBus(t *testing.T) {
	ps := DescribeBus(map[string]string{"org.freedesktop.Flatpak": "talk", "org.example.Other": "talk", "org.example.Seen": "see"}, nil)
	if len(ps) != 2 || Rate(ps) != Unsafe {
		t.Fatalf("%+v", ps)
	}
}

func TestAdded(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"same", "shared=network;", "shared=network;", nil},
		{"more", "shared=network;", "shared=network;\nfilesystems=home;", []string{"filesystems=home"}},
		{"ro made rw", "filesystems=home:ro;", "filesystems=home;", []string{"filesystems=home"}},
		{"rw made ro", "filesystems=home;", "filesystems=home:ro;", nil},
		{"fewer", "shared=network;\nsockets=x11;", "sockets=x11;", nil},
		{"from none", "", "devices=all;", []string{"devices=all"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Added(context(t, tc.old), context(t, tc.new))
			if len(got) != len(tc.want) {
				t.Fatalf("added %+v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].ID != tc.want[i] {
					t.Errorf("added %+v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestLevelJSON(t *testing.T) {
	b, err := json.Marshal(Permission{ID: "x", Label: "X", Level: PotentiallyUnsafe})
	if err != nil || string(b) != `{"id":"x","label":"X","level":"potentially-unsafe"}` {
		t.Fatalf("%s %v", b, err)
	}
	var p Permission
	if err := json.Unmarshal(b, &p); err != nil || p.Level != PotentiallyUnsafe {
		t.Fatalf("%+v %v", p, err)
	}
}
