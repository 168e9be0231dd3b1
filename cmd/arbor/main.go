// Command arbor is arbor's command line. This binary is small on purpose:
// it runs sandboxes and installed apps itself (sandbox, run), linking
// nothing of the object store, FUSE or OpenPGP, because a start pays for
// every page of the binary it loads; every other command, and a run whose
// mounts are not up yet, it hands to arbor-full beside it, which has them
// all. The two take the same options and print the same output.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
	"arbor/deploy/flatpak"
)

// errFull sends a command on to arbor-full.
var errFull = errors.New("needs arbor-full")

func main() {
	g := &launch.Globals{Stdout: os.Stdout, Stderr: os.Stderr}
	root := &cobra.Command{Use: launch.ProgName(), SilenceUsage: true, SilenceErrors: true}
	root.CompletionOptions.DisableDefaultCmd = true // arbor-full has it
	g.AddFlags(root)
	notMounted := func(context.Context, *flatpak.Installation, *flatpak.Deployed) error { return errFull }
	root.AddCommand(launch.SandboxCmd(g), launch.RunCmd(g, notMounted, nil))
	c, _, err := root.Find(os.Args[1:])
	if err != nil || c == root {
		full() // help, and every command this binary does not have
	}
	ctx, cancel := context.WithCancel(context.Background())
	if c.Name() == "run" {
		// Signals end an app through its context, so that the holds on
		// its commits go. Asked for off the start's path: setting up
		// signal delivery costs a thread start. A sandbox needs none: it
		// dies with this process.
		go func() {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			<-sig
			cancel()
		}()
	}
	err = root.ExecuteContext(ctx)
	cancel()
	if errors.Is(err, errFull) {
		full() // nothing was changed yet: the daemon has a mount to make
	}
	launch.Exit(err)
}

// full runs the same command line with arbor-full, beside this binary or
// on PATH, in this process.
func full() {
	const name = "arbor-full"
	bin := name
	if exe, err := os.Executable(); err == nil {
		bin = filepath.Join(filepath.Dir(exe), name)
	}
	if _, err := os.Stat(bin); err != nil {
		p, err := exec.LookPath(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error: arbor-full (arbor's other commands) is neither beside arbor nor on PATH")
			os.Exit(1)
		}
		bin = p
	}
	err := syscall.Exec(bin, append([]string{os.Args[0]}, os.Args[1:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "error: running %s: %v\n", bin, err)
	os.Exit(1)
}
