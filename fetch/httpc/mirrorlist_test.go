package httpc

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMirrorlist(t *testing.T) {
	var list string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/lists/mirrors":
			fmt.Fprint(w, list)
		case "/good/summary":
			fmt.Fprint(w, "from good")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, list, want, wantErr string
	}{
		{"falls past a missing repository", "\n# comment\n\n" + srv.URL + "/missing\n" + srv.URL + "/good\n", "from good", ""},
		{"empty list", "# nothing\n\n", "", "names no mirrors"},
		{"nested list", "mirrorlist=" + srv.URL + "/lists/mirrors\n", "", "may not name another list"},
		{"bad URL", "ftp://example.com/r\n", "", "Invalid URI scheme"},
	} {
		list = tc.list
		c, err := New(Options{Mirrors: []string{"mirrorlist=" + srv.URL + "/lists/mirrors"}, Attempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Get(context.Background(), "summary", 1<<20)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, b, err, tc.want)
		}
	}
}
