package main

import "testing"

func TestSISize(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 bytes", 1: "1 byte", 921: "921 bytes", 1234: "1.2 kB", 5_600_000: "5.6 MB", 7_000_000_000: "7.0 GB"} {
		if got := siSize(n); got != want {
			t.Errorf("siSize(%d) = %q, want %q", n, got, want)
		}
	}
}
