package refs

import (
	"reflect"
	"testing"
)

func TestListPrefixes(t *testing.T) {
	names := []string{"app/org.a/x86_64/stable", "main", "main/sub", "origin:main", "origin:os/x86_64"}
	cases := []struct {
		prefixes []string
		full     bool
		want     []Listed
	}{
		{[]string{"main"}, false, []Listed{{"main", "main"}, {"main/sub", "sub"}}},
		{[]string{"main/"}, true, []Listed{{"main", "main"}, {"main/sub", "main/sub"}}},
		{[]string{"origin:"}, false, []Listed{{"origin:main", "origin:main"}, {"origin:os/x86_64", "origin:os/x86_64"}}},
		{[]string{"origin:."}, false, []Listed{{"origin:main", "origin:main"}, {"origin:os/x86_64", "origin:os/x86_64"}}},
		{[]string{"origin:os"}, false, []Listed{{"origin:os/x86_64", "origin:x86_64"}}},
		{[]string{"ap"}, false, nil},
	}
	for _, c := range cases {
		if got := ListPrefixes(names, c.prefixes, c.full); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListPrefixes(%v, full %v) = %v, want %v", c.prefixes, c.full, got, c.want)
		}
	}
}

func TestMatchPrefix(t *testing.T) {
	cases := []struct {
		name, prefix string
		want         bool
	}{
		{"main", "main", true},
		{"main/sub", "main/", true},
		{"mainline", "main", false},
		{"origin:main", "origin", true},
		{"originals", "origin", false},
	}
	for _, c := range cases {
		if got := MatchPrefix(c.name, c.prefix); got != c.want {
			t.Errorf("MatchPrefix(%q, %q) = %v", c.name, c.prefix, got)
		}
	}
}
