package object

import (
	"fmt"
	"strings"
	"testing"
)

// The orders ostree 2022.7 (glib 2.74) wrote for `commit --bootable`: the
// metadata given, the binding, then ostree.bootable and ostree.linux,
// through a GVariantDict.
func TestDictOrder(t *testing.T) {
	many := []string{}
	for i := 1; i <= 14; i++ {
		many = append(many, fmt.Sprintf("key%d", i))
	}
	boot := []string{"ostree.ref-binding", "ostree.bootable", "ostree.linux"}
	for _, x := range []struct {
		in   []string
		want string
	}{
		{boot, "ostree.linux ostree.bootable ostree.ref-binding"},
		{append([]string{"version", "a"}, boot...), "ostree.linux version ostree.bootable a ostree.ref-binding"},
		// 17 keys: the table grows twice on the way.
		{append(many, boot...), "key14 ostree.linux key3 key6 key12 key9 ostree.bootable key1 key4 key10 key7 key13 ostree.ref-binding key2 key5 key11 key8"},
		// A key given twice keeps its first place.
		{[]string{"b", "a", "b"}, "b a"},
	} {
		var in []MetaEntry
		for i, k := range x.in {
			in = append(in, String(k, fmt.Sprint(i)))
		}
		var got []string
		out := DictOrder(in)
		for _, e := range out {
			got = append(got, e.Key)
		}
		if strings.Join(got, " ") != x.want {
			t.Errorf("DictOrder(%v) = %v, want %s", x.in, got, x.want)
		}
		if x.in[0] == "b" && out[0].Value.Value != "2" {
			t.Errorf("a key given twice keeps %v, want the last value", out[0].Value.Value)
		}
	}
}
