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
	"syscall"

	"arbor/mountd"
)

func main() {
	repo := flag.String("repo", "", "repository whose mounts this daemon serves (required)")
	idle := flag.Bool("exit-when-idle", false, "exit once the last mount is gone")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: arbord --repo=PATH [--exit-when-idle]\n\nexample:\n  arbord --repo=/var/lib/arbor/repo\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *repo == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := log.New(os.Stderr, "arbord: ", log.LstdFlags)
	if err := mountd.Run(ctx, mountd.Options{Repo: *repo, ExitWhenIdle: *idle, Logf: logger.Printf}); err != nil {
		logger.Print(err)
		os.Exit(1)
	}
}
