package main

import (
	"io"
	"testing"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
)

// Every command builds and merges its flags with its parents' without a
// name defined twice: a clash panics when the command is made, or when
// it runs.
func TestCommandsBuild(t *testing.T) {
	a := &app{Globals: launch.Globals{Stdout: io.Discard, Stderr: io.Discard}}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		c.InheritedFlags()
		c.LocalFlags()
		if c.Runnable() && !c.HasSubCommands() && c.Example == "" && c.Name() != "help" && c.Name() != "completion" && c.Parent() != nil && c.Parent().Name() != "completion" {
			t.Errorf("%s: --help has no example", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(a.rootCmd())
	if n < 80 {
		t.Errorf("only %d commands", n)
	}
}
