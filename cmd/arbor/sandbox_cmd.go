package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"arbor/sandbox"
)

func (a *app) sandboxCmd() *cobra.Command {
	var spec sandbox.Spec
	var shares, filesystems, envs []string
	c := &cobra.Command{
		Use:   "sandbox --runtime=DIR [--app=DIR] [--share=network|ipc] [--filesystem=PATH[:ro]] -- COMMAND [ARG...]",
		Short: "Run a command in arbor's sandbox, with a runtime at /usr and an app at /app",
		Long: `Run a command the way arbor runs apps: new namespaces, a fresh root with the
runtime read-only at /usr and the app at /app, seccomp, no privileges. For tests
and for debugging a sandbox. Everything after -- is the command, even a name
that begins with '-'.`,
		Example: `  arbor sandbox --runtime=/usr -- sh -c 'id; ls /'
  arbor sandbox --runtime=rt/files --app=app/files --share=network -- /app/bin/hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if spec.Runtime == "" {
				return fmt.Errorf("--runtime=DIR is required")
			}
			for _, p := range []*string{&spec.Runtime, &spec.App} {
				if *p != "" {
					abs, err := filepath.Abs(*p)
					if err != nil {
						return err
					}
					*p = abs
				}
			}
			for _, s := range shares {
				switch s {
				case "network":
					spec.Network = true
				case "ipc":
					spec.IPC = true
				default:
					return fmt.Errorf("--share=%s: want network or ipc", s)
				}
			}
			for _, f := range filesystems {
				path, mode, _ := strings.Cut(f, ":")
				abs, err := filepath.Abs(path)
				if err != nil {
					return err
				}
				if mode != "" && mode != "ro" && mode != "rw" {
					return fmt.Errorf("--filesystem=%s: the mode must be ro or rw", f)
				}
				spec.Binds = append(spec.Binds, sandbox.Bind{Source: abs, Dest: abs, Writable: mode == "rw"})
			}
			spec.Args = args
			uid := os.Getuid()
			spec.Home = "/home/user"
			spec.Env = sandbox.Environ(os.Environ(), uid, spec.Home, envs)
			code, err := sandbox.Run(cmd.Context(), spec, sandbox.Stdio{Stdin: os.Stdin, Stdout: a.stdout, Stderr: a.stderr})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&spec.Runtime, "runtime", "", "directory mounted read-only at /usr")
	c.Flags().StringVar(&spec.App, "app", "", "directory mounted read-only at /app")
	c.Flags().StringArrayVar(&shares, "share", nil, "share the host's network or ipc namespace")
	c.Flags().StringArrayVar(&filesystems, "filesystem", nil, "host path made visible at the same path (read-only, or :rw)")
	c.Flags().StringArrayVar(&envs, "env", nil, "set VAR=VALUE in the sandbox (VAR= removes it)")
	c.Flags().BoolVar(&spec.Features.Devel, "devel", false, "allow ptrace and perf (the devel feature)")
	return c
}
