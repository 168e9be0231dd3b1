package boot

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	for name, spec := range map[string]Spec{
		"empty": {},
		"app": {Runtime: "/rt/files", App: "/app/files", Args: []string{"-x", "a b", ""}, Env: []string{"A=1", "B="},
			Dir: "/app", Network: true, Binds: []Bind{{Source: "/h/Music", Dest: "/home/u/Music", Writable: true}, {Source: "/dev/dri", Dest: "/dev/dri", Device: true}},
			UID: 1000, GID: 1000, UserName: "u", Features: Features{Devel: true, Canbus: true}, Seccomp: []byte{0, 1, 2, 255},
			Info: []byte("[Application]\nname=x\n"), Home: "/home/u"},
		"system": {Runtime: "/", IPC: true, System: true, UID: -1, GID: 1 << 40, AppWritable: true, Features: Features{Multiarch: true, Bluetooth: true}},
	} {
		var buf bytes.Buffer
		if err := spec.Encode(&buf); err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		wire := buf.Bytes()
		var got Spec
		if err := got.Decode(bytes.NewReader(wire)); err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, spec) {
			t.Errorf("%s: round trip gave\n%+v\nwant\n%+v", name, got, spec)
		}
		// Every truncation is an error, never a shorter spec.
		for n := 0; n < len(wire); n++ {
			var short Spec
			if err := short.Decode(bytes.NewReader(wire[:n])); err == nil {
				t.Errorf("%s: %d of %d bytes decoded without an error", name, n, len(wire))
			}
		}
		var extra Spec
		if err := extra.Decode(bytes.NewReader(append(append([]byte{}, wire...), 0))); err == nil || !strings.Contains(err.Error(), "after the spec") {
			t.Errorf("%s: a trailing byte: %v", name, err)
		}
	}
}

func TestWireRefusesOtherVersions(t *testing.T) {
	var s Spec
	if err := s.Decode(strings.NewReader("\x02")); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("version 2: %v", err)
	}
}
