package gpg

import "testing"

func TestWKDURLs(t *testing.T) {
	tests := []struct {
		email, advanced, direct string
	}{
		{
			"test@test.com",
			"https://openpgpkey.test.com/.well-known/openpgpkey/test.com/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=test",
			"https://test.com/.well-known/openpgpkey/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=test",
		},
		// The local part is hashed lower case, and kept as written in l=.
		{
			"Test@Test.com",
			"https://openpgpkey.test.com/.well-known/openpgpkey/test.com/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=Test",
			"https://test.com/.well-known/openpgpkey/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=Test",
		},
		{"", "", ""},
		{"nobody", "", ""},
		{"@example.com", "", ""},
	}
	for _, tt := range tests {
		a, d := WKDURLs(tt.email)
		if a != tt.advanced || d != tt.direct {
			t.Errorf("WKDURLs(%q) = %q, %q; want %q, %q", tt.email, a, d, tt.advanced, tt.direct)
		}
	}
}
