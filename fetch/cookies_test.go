package fetch

import (
	"reflect"
	"testing"

	"arbor/fetch/httpc"
)

func TestCookieFileRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []StoredCookie
	}{
		{"empty", nil},
		{"two", []StoredCookie{
			{Cookie: httpc.Cookie{Domain: "127.0.0.1", Path: "/", Name: "foo", Value: "bar"}, Expires: "0"},
			{Cookie: httpc.Cookie{Domain: ".example.com", Path: "/repo", Name: "baz", Value: "badger"}, Secure: true, Expires: "1700000000"},
		}},
	} {
		got := parseCookies(formatCookies(tc.in))
		if !reflect.DeepEqual(got, tc.in) {
			t.Errorf("%s: round trip gave %+v, want %+v", tc.name, got, tc.in)
		}
	}
}

func TestParseCookiesSkips(t *testing.T) {
	in := "# comment\n\nbad line\n#HttpOnly_h\tFALSE\t/\tFALSE\t0\tn\tv\n"
	got := parseCookies([]byte(in))
	want := []StoredCookie{{Cookie: httpc.Cookie{Domain: "h", Path: "/", Name: "n", Value: "v"}, Expires: "0"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
