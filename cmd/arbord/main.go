// Command arbord is arbor's daemon: it owns the FUSE mounts of one
// repository and answers `arbor mount`, `arbor umount` and `arbor mounts`
// on a unix socket inside it. `arbor mount` starts it when needed; a
// systemd unit can run it for good.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/flatpak"
	"arbor/mountd"
	"arbor/store"
)

func main() {
	repo := flag.String("repo", "", "repository whose mounts this daemon serves (default: /var/lib/arbor/repo for root, else the per-user one)")
	idle := flag.Bool("exit-when-idle", false, "exit once the last mount is gone")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: arbord [--repo=PATH] [--exit-when-idle]\n\nexample:\n  arbord --repo=/var/lib/arbor/repo\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// A walk of a mount allocates per entry and keeps little alive.
		debug.SetGCPercent(400)
	}
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	logger := log.New(os.Stderr, "arbord: ", log.LstdFlags)
	if *repo == "" {
		p, err := flatpak.DefaultRepo()
		if err == nil {
			err = store.EnsureRepo(p)
		}
		if err != nil {
			logger.Fatal(err)
		}
		*repo = p
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// What the daemon logs names refs and paths of repositories.
	logf := func(f string, args ...any) { logger.Print(termtext.Block(fmt.Sprintf(f, args...))) }
	if err := mountd.Run(ctx, mountd.Options{Repo: *repo, ExitWhenIdle: *idle, Logf: logf}); err != nil {
		logger.Print(termtext.Block(err.Error()))
		os.Exit(1)
	}
}
