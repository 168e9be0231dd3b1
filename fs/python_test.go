package fs

import "testing"

func TestBytecodeStem(t *testing.T) {
	for _, c := range []struct {
		dir, base, stem string
		ok              bool
	}{
		{"__pycache__", "json.cpython-311.pyc", "json", true},
		{"__pycache__", "__init__.cpython-311.pyc", "__init__", true},
		{"__pycache__", "json.cpython-311.opt-1.pyc", "", false},
		{"__pycache__", "json.pyc", "", false},
		{"lib", "json.cpython-311.pyc", "", false},
		{"__pycache__", ".cpython-311.pyc", "", false},
	} {
		if stem, ok := bytecodeStem(c.dir, c.base); stem != c.stem || ok != c.ok {
			t.Errorf("bytecodeStem(%q, %q) = %q, %v", c.dir, c.base, stem, ok)
		}
	}
}
