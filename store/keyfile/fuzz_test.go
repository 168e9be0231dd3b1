package keyfile

import (
	"testing"
)

// FuzzParse: any accepted file must serialize to something that parses to
// the same groups and values; what ParseStrict accepts Parse reads the
// same, and its serialization passes ParseStrict again.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[core]\nrepo_version=1\nmode=archive-z2\n"))
	f.Add([]byte("[Desktop Entry]\nExec =sh -c x\nName[de]=y\n\n[Desktop Action a]\nExec=z\n"))
	f.Add([]byte("# c\n[remote \"o\"]\nurl=http://x/\nbranches=a;b;\nk=\\s\\n\\\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseBytes(data)
		if err != nil {
			if _, err := ParseStrict(data); err == nil {
				t.Fatalf("ParseStrict accepted what Parse refused")
			}
			return
		}
		if strict, err := ParseStrict(data); err == nil {
			if _, err := ParseStrict(strict.Bytes()); err != nil {
				t.Fatalf("strict re-parse: %v", err)
			}
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
