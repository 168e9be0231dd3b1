// Command arbor-sandbox-init is the first process inside arbor's sandbox:
// it builds the sandbox's root and starts the command. arbor starts it
// (from beside its own binary, else it starts itself in this role); this
// small binary starts in a fraction of the time arbor's whole one takes.
package main

import (
	"fmt"
	"os"

	"arbor/sandbox/boot"
)

func main() {
	boot.MaybeInit()
	fmt.Fprintln(os.Stderr, "arbor-sandbox-init: started by arbor sandbox and arbor run, not by hand")
	os.Exit(2)
}
