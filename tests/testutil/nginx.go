package testutil

import (
	"os"
	"testing"

	"arbor/tests/nginx"
)

// Nginx serves root as static files with a real nginx on a loopback port
// for the length of the test, and returns the base URL (ending in '/').
func Nginx(t testing.TB, root string) string {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		NeedTool(t, "nginx")
	}
	s, err := nginx.Start(t.TempDir(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.URL
}
