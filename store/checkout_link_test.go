package store

import (
	"testing"

	"arbor/store/object"
)

// Which objects a checkout may hardlink, by repository and checkout mode.
func TestCheckoutLinkable(t *testing.T) {
	file := &object.FileHeader{Mode: 0o100644}
	link := &object.FileHeader{Mode: 0o120777, Target: "x"}
	for _, c := range []struct {
		mode       Mode
		user       bool
		file, link bool
	}{
		{ModeBare, false, true, true},
		{ModeBare, true, false, false},
		{ModeBareUser, true, true, false},
		{ModeBareUser, false, false, false},
		{ModeBareUserOnly, true, true, true},
		{ModeArchive, true, false, false},
	} {
		co := &checkout{r: &Repo{mode: c.mode}, opts: &CheckoutOptions{UserMode: c.user}}
		co.canLink.Store(true)
		if got := co.linkable(file); got != c.file {
			t.Errorf("%s user %v: file linkable %v, want %v", c.mode, c.user, got, c.file)
		}
		if got := co.linkable(link); got != c.link {
			t.Errorf("%s user %v: symlink linkable %v, want %v", c.mode, c.user, got, c.link)
		}
	}
}
