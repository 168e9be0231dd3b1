package httpc

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"strings"
	"testing"
)

func metalinkDocFor(size, hashes, urls string) string {
	return `<?xml version="1.0"?><metalink version="3.0" xmlns="http://www.metalinker.org/"><files>
<file name="summary"><size>` + size + `</size><verification>` + hashes + `</verification>
<resources>` + urls + `</resources></file></files></metalink>`
}

func TestParseMetalink(t *testing.T) {
	summary := []byte("the summary")
	s256 := fmt.Sprintf(`<hash type="sha256">%x</hash>`, sha256.Sum256(summary))
	s512 := fmt.Sprintf(`<hash type="sha512">%x</hash>`, sha512.Sum512(summary))
	urls := `<url protocol="http" preference="10">http://a/r/summary</url><url protocol="http" preference="90">http://b/r/summary</url>`
	for _, tc := range []struct {
		name, doc string
		data      []byte
		wantErr   string // from parsing, or else from check
	}{
		{"valid, highest preference first", metalinkDocFor("11", s256+s512, urls), summary, ""},
		{"sha256 only", metalinkDocFor("11", s256, urls), summary, ""},
		{"bad digest", metalinkDocFor("11", `<hash type="sha512">bacon</hash>`, urls), nil, "Invalid hash digest for sha512"},
		{"no known hash", metalinkDocFor("11", `<hash type="md5">00</hash>`, urls), nil, "No <verification> with known <hash type="},
		{"no urls", metalinkDocFor("11", s512, ""), nil, "No <url method='http'> elements"},
		{"not xml", "bacon\n", nil, "Document must begin with an element"},
		{"wrong size", metalinkDocFor("11", s512, urls), []byte("moo"), "Expected size is 11 bytes but content is 3 bytes"},
		{"wrong content", metalinkDocFor("11", s512, urls), []byte("the summarY"), "Expected checksum is"},
	} {
		ms, err := parseMetalink([]byte(tc.doc))
		if err == nil {
			err = ms.check(tc.data)
			if err == nil && ms.urls[0] != "http://b/r/summary" {
				t.Errorf("%s: urls %q, want the preferred first", tc.name, ms.urls)
			}
		}
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
