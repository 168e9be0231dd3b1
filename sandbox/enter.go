package sandbox

import (
	"context"
	"errors"
	"fmt"

	"arbor/sandbox/boot"
)

// Enter runs a command inside the running sandbox whose first process
// is target (as the host sees it), as `flatpak enter` does: in its
// namespaces and at its root, with the environment its command has, as
// its user, with no privileges and the seccomp filter of an app with
// these features. It returns the command's exit status.
func Enter(ctx context.Context, target int, args []string, features Features, stdio Stdio) (int, error) {
	if len(args) == 0 {
		return 0, errors.New("sandbox: no command")
	}
	env, err := boot.Environ(target)
	if err != nil {
		return 0, err
	}
	prog, err := SeccompProgram(features)
	if err != nil {
		return 0, fmt.Errorf("sandbox: %w", err)
	}
	sb := &Sandbox{ctx: ctx}
	files, err := sb.streams(stdio)
	if err != nil {
		return 0, err
	}
	if sb.proc, err = boot.New(files); err != nil {
		sb.closeStreams()
		return 0, err
	}
	defer sb.Close()
	if err := sb.proc.CloneToEnter(target); err != nil {
		return 0, err
	}
	if err := sb.proc.CompileEnter(&boot.EnterSpec{Target: target, Args: args, Env: env, Seccomp: prog}); err != nil {
		sb.proc.Kill()
		return 0, err
	}
	sb.prepared = true
	return sb.Run()
}
