package keyfile

import (
	"testing"
)

// FuzzParse: any accepted file must serialize to something that parses to
// the same groups and values.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[core]\nrepo_version=1\nmode=archive-z2\n"))
	f.Add([]byte("# c\n[remote \"o\"]\nurl=http://x/\nbranches=a;b;\nk=\\s\\n\\\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseBytes(data)
		if err != nil {
			return
		}
		again, err := ParseBytes(kf.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		for _, g := range kf.Groups() {
			for _, k := range kf.Keys(g) {
				a, _ := kf.Get(g, k)
				b, _ := again.Get(g, k)
				if a != b {
					t.Fatalf("[%s] %s: %q became %q", g, k, a, b)
				}
			}
		}
	})
}
