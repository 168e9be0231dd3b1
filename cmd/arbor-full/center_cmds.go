package main

import (
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"arbor/mountd"
)

func (a *app) centerCmd() *cobra.Command {
	var urlOnly bool
	var sysrootPath string
	c := &cobra.Command{
		Use:   "center [--url] [--sysroot=PATH]",
		Short: "Open the software center: browse, install, update and roll back apps and the OS",
		Long: `Open the software center in the default browser. The repository's daemon
serves it on loopback to this user only; the address holds the session's
secret, without which every request is refused.`,
		Example: `  arbor center
  arbor center --url --sysroot=/mnt/sr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo() // an installation's repository is made on first use
			if err != nil {
				return err
			}
			r.Close()
			repo, err := a.repoForDaemon()
			if err != nil {
				return err
			}
			argv, err := daemonArgv(repo)
			if err != nil {
				return err
			}
			var ci *mountd.CenterInfo
			for attempt := 0; ; attempt++ {
				cl, err := mountd.EnsureDaemon(cmd.Context(), repo, argv)
				if err != nil {
					return err
				}
				ci, err = cl.Center(cmd.Context(), mountd.CenterRequest{Sysroot: sysrootPath})
				if errors.Is(err, mountd.ErrClosing) && attempt < 50 {
					time.Sleep(100 * time.Millisecond) // an idle daemon on its way out
					continue
				}
				if err != nil {
					return err
				}
				break
			}
			if a.json {
				return a.printJSON(ci)
			}
			if urlOnly {
				fmt.Fprintln(a.Stdout, ci.URL)
				return nil
			}
			opener, err := exec.LookPath("xdg-open")
			if err != nil {
				fmt.Fprintf(a.Stdout, "Open %s in a browser\n", ci.URL)
				return nil
			}
			if err := exec.CommandContext(cmd.Context(), opener, ci.URL).Run(); err != nil {
				return fmt.Errorf("opening the center with %s: %w (open %s yourself)", opener, err, ci.URL)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&urlOnly, "url", false, "print the address to open (with its secret) and open nothing")
	c.Flags().StringVar(&sysrootPath, "sysroot", "", "also manage the OS deployed in this sysroot")
	a.jsonFlag(c)
	return c
}
