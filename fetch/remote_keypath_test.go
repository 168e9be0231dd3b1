package fetch

import (
	"reflect"
	"strings"
	"testing"
)

func TestGPGKeyPathList(t *testing.T) {
	tests := []struct {
		value   string
		want    []string
		wantErr string // from Keyring
	}{
		{value: "/a.asc", want: []string{"/a.asc"}},
		{value: "/a.asc,/b.asc", want: []string{"/a.asc", "/b.asc"}},
		{value: "/a.asc;/b.asc", want: []string{"/a.asc", "/b.asc"}},
		{value: "/a.asc,", want: []string{"/a.asc"}},
		{value: ",/a.asc", want: []string{"", "/a.asc"}, wantErr: "stat(): No such file or directory"},
		{value: "/a.asc,/b.asc;/c.asc", wantErr: "more than one separator"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			r := newClient(t, "http://127.0.0.1:1/")
			r.Config().Set(group("origin"), "gpgkeypath", tt.value)
			rm, err := LoadRemote(r, "origin")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !reflect.DeepEqual(rm.GPGKeyPath, tt.want) {
				t.Errorf("GPGKeyPath = %q, want %q", rm.GPGKeyPath, tt.want)
			}
			if tt.wantErr == "" {
				return
			}
			if _, err := rm.Keyring(r); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Keyring error = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}
