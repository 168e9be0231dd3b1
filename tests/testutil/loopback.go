package testutil

import (
	"net"
	"testing"
)

// ServeTCP accepts TCP connections on 127.0.0.1 for the length of the
// test and hands each to handle on its own goroutine, closing it after;
// it returns the address.
func ServeTCP(t testing.TB, handle func(c net.Conn)) string {
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
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// LoopbackServer is ServeTCP writing greeting to each connection.
func LoopbackServer(t testing.TB, greeting string) string {
	return ServeTCP(t, func(c net.Conn) { c.Write([]byte(greeting)) })
}
