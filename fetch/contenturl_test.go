package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"arbor/store/index"
	"arbor/store/object"
)

// Signatures come from the remote's url; every object from contenturl.
func TestMetaFromContentURL(t *testing.T) {
	serve := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(name))
		}))
	}
	meta, content := serve("meta"), serve("content")
	defer meta.Close()
	defer content.Close()
	src, err := newHTTPSource(&Remote{Name: "origin", URL: meta.URL, ContentURL: content.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ  object.Type
		want string
	}{
		{object.TypeCommit, "content"},
		{object.TypeDirTree, "content"},
		{object.TypeDirMeta, "content"},
		{object.TypeCommitMeta, "meta"},
	} {
		b, err := src.Meta(context.Background(), index.Ref{Type: tc.typ})
		if err != nil || !strings.HasPrefix(string(b), tc.want) {
			t.Errorf("type %d: %q, %v; want from %s", tc.typ, b, err, tc.want)
		}
	}
}
