package sandbox

import (
	"fmt"
	"runtime"
)

//go:generate go test ./rules -run TestCompiledPrograms -update

// SeccompProgram is the BPF program of flatpak's default seccomp rules
// for the features, as libseccomp compiles them (package rules) for this
// architecture. It is compiled ahead of time: a sandbox's start then
// neither links libseccomp nor spends a millisecond compiling.
func SeccompProgram(ft Features) ([]byte, error) {
	i := 0
	for bit, on := range []bool{ft.Devel, ft.Multiarch, ft.Bluetooth, ft.Canbus} {
		if on {
			i |= 1 << bit
		}
	}
	prog := compiledProgram(i)
	if prog == "" {
		return nil, fmt.Errorf("no seccomp program compiled for %s", runtime.GOARCH)
	}
	return []byte(prog), nil
}
