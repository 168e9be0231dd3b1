package sandbox

import (
	"strings"
	"testing"

	"arbor/store/keyfile"
)

func TestCheckBusName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"org.freedesktop.Notifications", true},
		{"org.example.App.*", true},
		{"org.mpris.MediaPlayer2.org.example-app_2", true},
		{"org", false},
		{":1.42", false},
		{"org..example", false},
		{"org.1example", false},
		{"org.example.*.x", false},
		{"*", false},
		{"org.exa mple", false},
		{"", false},
		{strings.Repeat("a.", 128) + "b", false},
	} {
		if err := CheckBusName(c.name); (err == nil) != c.ok {
			t.Errorf("CheckBusName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// Layers merge name by name; none takes a name away and is left out of
// the merged view, kept where denials are written.
func TestBusPolicyLayers(t *testing.T) {
	app := mustContext(t, "[Session Bus Policy]\norg.a.A=talk\norg.b.B=own\norg.c.C=see\n\n[System Bus Policy]\norg.s.S=talk\n")
	over := mustContext(t, "[Session Bus Policy]\norg.a.A=none\norg.c.C=talk\n")
	if len(over.Warnings) != 0 || len(app.Warnings) != 0 {
		t.Fatalf("warnings: %v %v", app.Warnings, over.Warnings)
	}
	app.Merge(over)
	var got []string
	for _, r := range app.BusNames(SessionBus) {
		got = append(got, r.Name+"="+r.Policy.String())
	}
	if strings.Join(got, " ") != "org.b.B=own org.c.C=talk" {
		t.Errorf("session names: %v", got)
	}
	if s := app.BusNames(SystemBus); len(s) != 1 || s[0] != (BusRule{"org.s.S", BusTalk}) {
		t.Errorf("system names: %v", s)
	}
	merged, withDenials := keyfile.New(), keyfile.New()
	app.Keyfile(merged, false)
	app.Keyfile(withDenials, true)
	if v, ok := merged.Get("Session Bus Policy", "org.a.A"); ok {
		t.Errorf("the merged view keeps a name taken away: %q", v)
	}
	if v, _ := withDenials.Get("Session Bus Policy", "org.a.A"); v != "none" {
		t.Errorf("an override loses its denial: %q", v)
	}
	if v, _ := merged.Get("System Bus Policy", "org.s.S"); v != "talk" {
		t.Errorf("system policy written as %q", v)
	}
}

func TestBusPolicyBadLines(t *testing.T) {
	c := mustContext(t, "[Session Bus Policy]\norg.a.A=talkative\norg.b.B= own\n")
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "org.a.A=talkative") {
		t.Errorf("warnings: %v", c.Warnings)
	}
	if r := c.BusNames(SessionBus); len(r) != 1 || r[0].Name != "org.b.B" {
		t.Errorf("names: %v", r)
	}
	kf, _ := keyfile.ParseBytes([]byte("[System Bus Policy]\norg=talk\n"))
	if _, err := ParseContext(kf); err == nil || !strings.Contains(err.Error(), `"org"`) {
		t.Errorf("a bad name: %v", err)
	}
}

// A permission name from a newer flatpak in a file is dropped with a
// warning naming it, as flatpak drops it; on the command line it is an
// error.
func TestUnknownPermissionNames(t *testing.T) {
	c := mustContext(t, "[Context]\nsockets=x11;hologram;\ndevices=!quantum;\n")
	if !c.Sockets["x11"] || len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "sockets=hologram") || !strings.Contains(c.Warnings[1], "devices=!quantum") {
		t.Errorf("sockets %v, warnings %q", c.Sockets, c.Warnings)
	}
	if err := NewContext().AddFlag("sockets", "hologram"); err == nil {
		t.Error("--socket=hologram accepted")
	}
}
