package termtext

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, line, block string }{
		{"plain text, ünïcödé, 日本語", "plain text, ünïcödé, 日本語", "plain text, ünïcödé, 日本語"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`, `\x1b[31mred\x1b[0m`},
		{"a\nb\tc\r", `a\x0ab\x09c\x0d`, "a\nb\tc\\x0d"},
		{"\x00\x07\x08\x7f", `\x00\x07\x08\x7f`, `\x00\x07\x08\x7f`},
		{"\u009b31m \u0085 \u0080\u009f", `\u009b31m \u0085 \u0080\u009f`, `\u009b31m \u0085 \u0080\u009f`},
		{"\xff\xfe ok \xc3", `\xff\xfe ok \xc3`, `\xff\xfe ok \xc3`},
		{"\xc2\x9b", `\u009b`, `\u009b`},
		{"abc\u202eexe.txt \u2066x\u2069 \u200f\u061c", `abc\u202eexe.txt \u2066x\u2069 \u200f\u061c`, `abc\u202eexe.txt \u2066x\u2069 \u200f\u061c`},
		{"line\u2028sep", `line\u2028sep`, `line\u2028sep`},
		{`already \x1b`, `already \x1b`, `already \x1b`},
		{"\u00a0\u00e9\u200d", "\u00a0\u00e9\u200d", "\u00a0\u00e9\u200d"},
		{"", "", ""},
	} {
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.line)
		}
		if got := Block(c.in); got != c.block {
			t.Errorf("Block(%q) = %q, want %q", c.in, got, c.block)
		}
	}
}

// encoding/json escapes C0 controls itself; JSON escapes what it leaves,
// and the result decodes to the same value.
func TestJSON(t *testing.T) {
	in := "\x1b[31m \u009b31m \u202e \u00e9 \xff"
	enc, err := json.Marshal(map[string]string{"subject": in})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), `\u001b[31m`) {
		t.Errorf("encoding/json wrote ESC as %q", enc)
	}
	out := JSON(enc)
	if want := `{"subject":"\u001b[31m \u009b31m \u202e é \ufffd"}`; string(out) != want {
		t.Errorf("JSON(%s) = %s, want %s", enc, out, want)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["subject"] != strings.ToValidUTF8(in, "\ufffd") {
		t.Errorf("decoded %q %v", back["subject"], err)
	}
}
