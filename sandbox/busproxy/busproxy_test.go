package busproxy

import (
	"slices"
	"testing"

	"arbor/sandbox"
)

func TestRules(t *testing.T) {
	c := sandbox.NewContext()
	c.SetBusName(sandbox.SessionBus, "org.freedesktop.Notifications", sandbox.BusTalk)
	c.SetBusName(sandbox.SessionBus, "org.example.Gone", sandbox.BusNone)
	c.SetBusName(sandbox.SessionBus, "org.example.Seen.*", sandbox.BusSee)
	c.SetBusName(sandbox.SystemBus, "org.freedesktop.NetworkManager", sandbox.BusTalk)
	for _, r := range []struct {
		name      string
		got, want []string
	}{
		{"session of an app", SessionRules("org.example.App", c), []string{"--filter", "--own=org.example.App.*",
			"--own=org.mpris.MediaPlayer2.org.example.App.*", "--see=org.example.Seen.*", "--talk=org.freedesktop.Notifications",
			"--call=org.freedesktop.portal.*=*", "--broadcast=org.freedesktop.portal.*=@/org/freedesktop/portal/*"}},
		{"session without an app", SessionRules("", sandbox.NewContext()), []string{"--filter",
			"--call=org.freedesktop.portal.*=*", "--broadcast=org.freedesktop.portal.*=@/org/freedesktop/portal/*"}},
		{"system", SystemRules(c), []string{"--filter", "--talk=org.freedesktop.NetworkManager"}},
	} {
		if !slices.Equal(r.got, r.want) {
			t.Errorf("%s: %q, want %q", r.name, r.got, r.want)
		}
	}
}
