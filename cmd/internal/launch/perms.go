package launch

import (
	"arbor/cmd/internal/termtext"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"arbor/sandbox"
)

// PermFlags are flatpak's permission options, shared by the commands
// that take them.
type PermFlags struct {
	share, socket, device, allow, filesystem, persist, env []string
	// bus names by flag: --own-name, --talk-name, --no-talk-name and the
	// same on the system bus
	busNames map[string]*[]string
}

// busFlags are flatpak's bus name options: the bus and the level each
// gives.
var busFlags = []struct {
	flag   string
	bus    sandbox.Bus
	policy sandbox.BusPolicy
	help   string
}{
	{"own-name", sandbox.SessionBus, sandbox.BusOwn, "let the app own NAME (or NAME.*) on the session bus"},
	{"talk-name", sandbox.SessionBus, sandbox.BusTalk, "let the app talk to NAME on the session bus"},
	{"no-talk-name", sandbox.SessionBus, sandbox.BusNone, "take NAME away on the session bus"},
	{"system-own-name", sandbox.SystemBus, sandbox.BusOwn, "let the app own NAME on the system bus"},
	{"system-talk-name", sandbox.SystemBus, sandbox.BusTalk, "let the app talk to NAME on the system bus"},
	{"system-no-talk-name", sandbox.SystemBus, sandbox.BusNone, "take NAME away on the system bus"},
}

// Add defines the options on c.
func (p *PermFlags) Add(c *cobra.Command) {
	c.Flags().StringArrayVar(&p.share, "share", nil, "share network or ipc with the host (!X to deny)")
	c.Flags().StringArrayVar(&p.socket, "socket", nil, "x11, wayland, pulseaudio, session-bus, system-bus, ssh-auth, ...")
	c.Flags().StringArrayVar(&p.device, "device", nil, "dri, kvm, shm or all")
	c.Flags().StringArrayVar(&p.allow, "allow", nil, "devel, multiarch, bluetooth or canbus")
	c.Flags().StringArrayVar(&p.filesystem, "filesystem", nil, "host, host-os, host-etc, home, xdg-*, ~/PATH or /PATH, with :ro, :rw or :create; !X denies")
	c.Flags().StringArrayVar(&p.persist, "persist", nil, "home-relative path kept in ~/.var/app/ID")
	c.Flags().StringArrayVar(&p.env, "env", nil, "set VAR=VALUE (VAR= removes it)")
	p.busNames = map[string]*[]string{}
	for _, b := range busFlags {
		v := new([]string)
		p.busNames[b.flag] = v
		c.Flags().StringArrayVar(v, b.flag, nil, b.help)
	}
}

// Context is the permissions the options give.
func (p *PermFlags) Context() (*sandbox.Context, error) {
	c := sandbox.NewContext()
	for key, vs := range map[string][]string{"shared": p.share, "sockets": p.socket, "devices": p.device, "features": p.allow} {
		for _, v := range vs {
			if err := c.AddFlag(key, v); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range p.filesystem {
		if err := c.AddFilesystem(f); err != nil {
			return nil, err
		}
	}
	for _, v := range p.persist {
		if err := c.AddPersistent(v); err != nil {
			return nil, err
		}
	}
	for _, b := range busFlags {
		if p.busNames[b.flag] == nil {
			continue
		}
		for _, n := range *p.busNames[b.flag] {
			if err := c.SetBusName(b.bus, n, b.policy); err != nil {
				return nil, fmt.Errorf("--%s=%s: %w", b.flag, n, err)
			}
		}
	}
	for _, e := range p.env {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env=%s: invalid env format, want VAR=VALUE", termtext.Line(e))
		}
		c.Env[k] = v
	}
	return c, nil
}
