package gvariant

import "testing"

func TestParseText(t *testing.T) {
	for _, tc := range []struct {
		in, want, sig string // want: Print of the result; "" for an error
	}{
		{"'value'", "'value'", "s"},
		{`"it's"`, `"it's"`, "s"},
		{"true", "true", "b"},
		{"42", "42", "i"},
		{"-7", "-7", "i"},
		{"2.5", "2.5", "d"},
		{"@t 123", "uint64 123", "t"},
		{"uint32 7", "uint32 7", "u"},
		{"@a{sv} {}", "@a{sv} {}", "a{sv}"},
		{"{'a': <1>, 'b': <'x'>}", "{'a': <1>, 'b': <'x'>}", "a{sv}"},
		{"['a', 'b']", "['a', 'b']", "as"},
		{"(1, 'a')", "(1, 'a')", "(is)"},
		{"(1,)", "(1,)", "(i)"},
		{"<@ay []>", "<@ay []>", "v"},
		{"b'hi'", "b'hi'", "ay"},
		{"just 'x'", "just 'x'", "ms"},
		{"@ms nothing", "@ms nothing", "ms"},
		{"'a\\nb'", "'a\\nb'", "s"},
		{"[]", "", ""},
		{"'open", "", ""},
		{"@y 300", "", ""},
		{"1 2", "", ""},
		{"[1, 'a']", "", ""},
	} {
		v, err := ParseText(tc.in, nil)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: parsed as %s, want an error", tc.in, Print(v.Type, v.Value))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := Print(v.Type, v.Value); got != tc.want || v.Type.String() != tc.sig {
			t.Errorf("%s: %s of type %s, want %s of %s", tc.in, got, v.Type, tc.want, tc.sig)
		}
		if _, err := Encode(v.Type, v.Value); err != nil {
			t.Errorf("%s: does not encode: %v", tc.in, err)
		}
	}
	if _, err := ParseText("5", MustType("t")); err != nil {
		t.Errorf("a wanted type: %v", err)
	}
	if _, err := ParseText("'x'", MustType("t")); err == nil {
		t.Error("a string taken as uint64")
	}
}
