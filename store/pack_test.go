package store

import (
	"strings"
	"testing"

	"arbor/store/object"
)

func TestParsePackIndex(t *testing.T) {
	c := object.Sha256([]byte("x")).String()
	tests := []struct {
		name, in string
		want     int // entries; -1: refused
	}{
		{"two objects", packMagic + "\n" + c + " 10\n" + c + " 20\n", 2},
		{"none", packMagic + "\n", 0},
		{"no magic", c + " 10\n", -1},
		{"another version", "arbor-pack 2\n" + c + " 10\n", -1},
		{"no size", packMagic + "\n" + c + "\n", -1},
		{"a bad checksum", packMagic + "\nxyz 10\n", -1},
		{"a zero size", packMagic + "\n" + c + " 0\n", -1},
		{"a negative size", packMagic + "\n" + c + " -5\n", -1},
		{"more than a pack may hold", packMagic + "\n" + c + " 400000000\n" + c + " 400000000\n", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePackIndex([]byte(tc.in))
			switch {
			case tc.want < 0 && err == nil:
				t.Errorf("accepted: %v", got)
			case tc.want >= 0 && (err != nil || len(got) != tc.want):
				t.Errorf("got %d entries, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}

func TestParseProfile(t *testing.T) {
	tests := []struct {
		name, in string
		refs     []string
		bad      bool
	}{
		{"two refs, in order", "app/a/x86_64/1\tfiles/bin/a\nruntime/r/x86_64/1\tfiles/bin/sh\napp/a/x86_64/1\tfiles/lib/x\n", []string{"app/a/x86_64/1", "runtime/r/x86_64/1"}, false},
		{"empty", "", nil, false},
		{"no tab", "app/a/x86_64/1 files/bin/a\n", nil, true},
		{"no path", "app/a/x86_64/1\t\n", nil, true},
		{"a bad ref", "../x\tfiles/a\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paths, order, err := ParseProfile([]byte(tc.in))
			if tc.bad {
				if err == nil {
					t.Errorf("accepted: %v", paths)
				}
				return
			}
			if err != nil || strings.Join(order, ",") != strings.Join(tc.refs, ",") {
				t.Errorf("refs %v, %v; want %v", order, err, tc.refs)
			}
			if len(order) == 2 && len(paths[order[0]]) != 2 {
				t.Errorf("paths of %s: %v", order[0], paths[order[0]])
			}
		})
	}
}
