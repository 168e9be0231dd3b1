package apps

import (
	"context"
	"testing"
	"time"

	"arbor/deploy/flatpak"
	"arbor/fetch"
)

// Kept sessions: an operation after another takes the summary the one
// before verified, until a refresh asks the remote again; a remote whose
// configuration changed gets a new session; without Sessions every
// operation asks the remote.
func TestKeptSessions(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	v1 := p.app("one", "")
	m := newManager(t, p)
	m.Sessions = NewSessions(time.Hour)
	defer m.Sessions.Close()
	commit := func() string {
		t.Helper()
		ci, err := m.RemoteCommit(ctx, "origin", helloRef)
		if err != nil {
			t.Fatal(err)
		}
		return ci.Commit.String()
	}
	if c := commit(); c != v1.String() {
		t.Fatalf("the remote's commit: %s, want %s", c, v1)
	}
	v2 := p.app("two", "")
	if c := commit(); c != v1.String() {
		t.Errorf("within Fresh of the summary before, an operation saw %s, not the commit that summary named (%s)", c, v1)
	}
	refs, err := m.RemoteRefs(ctx, "origin")
	if err != nil {
		t.Fatal(err)
	}
	if refs[helloRef.String()] != v2 {
		t.Errorf("a refresh saw %s, not the remote's %s", refs[helloRef.String()], v2)
	}
	if c := commit(); c != v2.String() {
		t.Errorf("after a refresh an operation saw %s, not %s", c, v2)
	}
	// The installation takes what the kept summary offers, and the
	// commit the details fetched is not asked for again.
	var ev events
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello", Kind: "app"}, ev.add); err != nil {
		t.Fatal(err)
	}
	if c := installed(t, m, helloRef); c != v2 {
		t.Errorf("installed %s, want %s", c, v2)
	}
	for _, e := range ev.es {
		if e.Message == "fetching the commit of "+helloRef.String() {
			t.Errorf("the install fetched the commit its session had fetched and verified: %+v", e)
		}
	}
	if _, err := m.Uninstall(ctx, UninstallRequest{Refs: []flatpak.Ref{helloRef}}, nil); err != nil {
		t.Fatal(err)
	}

	// Another URL for the remote (the same repository, written another
	// way): a new session, which reads the remote's summary now.
	v3 := p.app("three", "")
	if err := fetch.AddRemote(m.Repo, "origin", "file://"+p.repo.Path()+"/", fetch.AddOptions{NoGPGVerify: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	if c := commit(); c != v3.String() {
		t.Errorf("after the remote's configuration changed an operation saw %s, not %s", c, v3)
	}
	// A commit the session did not fetch itself is fetched (and its
	// signatures checked) by the install, though it is stored.
	m.Sessions.Close()
	ev = events{}
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello", Kind: "app"}, ev.add); err != nil {
		t.Fatal(err)
	}
	fetched := false
	for _, e := range ev.es {
		fetched = fetched || e.Message == "fetching the commit of "+helloRef.String()
	}
	if !fetched {
		t.Error("a new session's install did not fetch the commit")
	}

	// None kept: each operation reads the summary.
	m.Sessions.Close()
	m.Sessions = nil
	v4 := p.app("four", "")
	if c := commit(); c != v4.String() {
		t.Errorf("without kept sessions an operation saw %s, not %s", c, v4)
	}
}
