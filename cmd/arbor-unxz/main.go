// Command arbor-unxz decodes one xz stream for arbor, locked down by
// seccomp before it reads a byte: arbor starts it beside itself to
// decode a static delta's part while the part downloads, and uses what
// it writes only once the part's checksum is verified. It is not meant
// to be run by hand.
package main

import (
	"fmt"
	"os"

	"arbor/store/delta/xzproc"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "usage: %s < BOUND-AND-XZ-STREAM > DATA\n  started by arbor to decode a delta part as it downloads; takes no arguments\n  example: arbor pull origin stable (which starts it)\n", xzproc.Name)
		os.Exit(2)
	}
	if err := xzproc.Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", xzproc.Name, err)
		os.Exit(1)
	}
}
