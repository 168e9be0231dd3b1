package httpc

import (
	"net/http"
	"strings"
	"testing"
)

func TestCookieMatches(t *testing.T) {
	for _, tc := range []struct {
		c          Cookie
		host, path string
		want       bool
	}{
		{Cookie{Domain: "127.0.0.1", Path: "/"}, "127.0.0.1", "/ostree/repo/", true},
		{Cookie{Domain: "example.com", Path: "/repo"}, "example.com", "/repo/", true},
		{Cookie{Domain: "example.com", Path: "/repo"}, "example.com", "/other/", false},
		{Cookie{Domain: ".example.com", Path: "/"}, "cdn.example.com", "/", true},
		{Cookie{Domain: "example.com", Path: "/"}, "badexample.com", "/", false},
		{Cookie{Domain: "example.com", Path: "/"}, "other.org", "/", false},
	} {
		if got := tc.c.matches(tc.host, tc.path); got != tc.want {
			t.Errorf("%+v matches(%q, %q) = %v, want %v", tc.c, tc.host, tc.path, got, tc.want)
		}
	}
}

func TestMirrorHeader(t *testing.T) {
	m, err := parseMirror("http://127.0.0.1:8000/repo")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		extra   http.Header
		cookies []Cookie
		want    string // lean lines, or an error's words
		wantErr bool
	}{
		{"none", nil, nil, "", false},
		{"header and cookies", http.Header{"Foo": {"bar"}}, []Cookie{{Domain: "127.0.0.1", Path: "/", Name: "a", Value: "1"}, {Domain: "127.0.0.1", Path: "/", Name: "b", Value: "2"}, {Domain: "elsewhere", Path: "/", Name: "c", Value: "3"}},
			"\r\nCookie: a=1; b=2\r\nFoo: bar", false},
		{"line break", http.Header{"Foo": {"bar\r\nEvil: 1"}}, nil, "line break", true},
		{"bad name", http.Header{"Fo o": {"bar"}}, nil, "not a token", true},
		{"cookie separator", nil, []Cookie{{Domain: "127.0.0.1", Path: "/", Name: "a", Value: "1; b=2"}}, "separator", true},
	} {
		h, err := mirrorHeader(m, tc.extra, tc.cookies)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want one saying %q", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := headerLines(h); got != tc.want {
			t.Errorf("%s: lines %q, want %q", tc.name, got, tc.want)
		}
	}
}
