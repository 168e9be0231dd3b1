package refs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/object"
)

// Aliases read as their target, list as refs, refuse what ostree refuses,
// and a symlink out of refs/heads is no alias.
func TestAliases(t *testing.T) {
	d := Dir(t.TempDir())
	c1, _ := object.ParseChecksum(strings.Repeat("1", 64))
	c2, _ := object.ParseChecksum(strings.Repeat("2", 64))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Set("os/26", c1, false))
	must(d.Set("os/27", c2, false))
	must(d.SetAlias("os/stable", "os/26"))
	if c, err := d.Read("os/stable"); err != nil || c != c1 {
		t.Errorf("alias reads %s, %v", c, err)
	}
	must(d.SetAlias("os/stable", "os/27")) // an alias is replaced
	if all, err := d.All(); err != nil || all["os/stable"] != c2 {
		t.Errorf("All: %v %v", all, err)
	}
	if al, err := d.Aliases(); err != nil || len(al) != 1 || al["os/stable"] != "os/27" {
		t.Errorf("Aliases: %v %v", al, err)
	}
	for _, x := range []struct{ alias, target, want string }{
		{"os/new", "os/none", "non-existent"},
		{"os/26", "os/27", "already exists"},
	} {
		if err := d.SetAlias(x.alias, x.target); err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("SetAlias(%s, %s) = %v, want %q", x.alias, x.target, err, x.want)
		}
	}
	if err := d.Delete("os/27"); err == nil || !strings.Contains(err.Error(), "active aliases") {
		t.Errorf("deleting an aliased ref: %v", err)
	}
	// A link that leads out of the refs is neither read nor listed.
	secret := filepath.Join(string(d), "secret")
	must(os.WriteFile(secret, []byte(strings.Repeat("3", 64)+"\n"), 0o644))
	must(os.Symlink("../../../secret", filepath.Join(string(d), "refs", "heads", "os", "out")))
	if c, err := d.Read("os/out"); err == nil {
		t.Errorf("read through a link out of refs/heads: %s", c)
	}
	if all, _ := d.All(); all["os/out"] != object.Zero {
		t.Error("a link out of refs/heads listed as a ref")
	}
}
