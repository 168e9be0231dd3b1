package testutil

import (
	"net"
	"testing"
)

// LoopbackServer accepts TCP connections on 127.0.0.1 for the length of
// the test, writes greeting to each and closes it; it returns the address.
func LoopbackServer(t testing.TB, greeting string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(greeting))
			c.Close()
		}
	}()
	return ln.Addr().String()
}
