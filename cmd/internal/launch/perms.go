package launch

import (
	"strings"

	"github.com/spf13/cobra"

	"arbor/sandbox"
)

// PermFlags are flatpak's permission options, shared by the commands
// that take them.
type PermFlags struct{ share, socket, device, allow, filesystem, persist, env []string }

// Add defines the options on c.
func (p *PermFlags) Add(c *cobra.Command) {
	c.Flags().StringArrayVar(&p.share, "share", nil, "share network or ipc with the host (!X to deny)")
	c.Flags().StringArrayVar(&p.socket, "socket", nil, "x11, wayland, pulseaudio, session-bus, system-bus, ssh-auth, ...")
	c.Flags().StringArrayVar(&p.device, "device", nil, "dri, kvm, shm or all")
	c.Flags().StringArrayVar(&p.allow, "allow", nil, "devel, multiarch, bluetooth or canbus")
	c.Flags().StringArrayVar(&p.filesystem, "filesystem", nil, "host, host-os, host-etc, home, xdg-*, ~/PATH or /PATH, with :ro, :rw or :create; !X denies")
	c.Flags().StringArrayVar(&p.persist, "persist", nil, "home-relative path kept in ~/.var/app/ID")
	c.Flags().StringArrayVar(&p.env, "env", nil, "set VAR=VALUE (VAR= removes it)")
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
	for _, e := range p.env {
		k, v, _ := strings.Cut(e, "=")
		c.Env[k] = v
	}
	return c, nil
}
