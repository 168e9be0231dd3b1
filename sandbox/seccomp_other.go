//go:build !amd64

package sandbox

// compiledProgram has no programs for this architecture yet (go generate
// ./sandbox on it writes them).
func compiledProgram(int) string { return "" }
