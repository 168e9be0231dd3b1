package admin

import (
	"context"
	"testing"
	"time"

	"arbor/deploy/center"
	"arbor/tests/testutil"
)

// The center's OS backend on a sysroot: a check finds the new commit, the
// upgrade deploys it as the default, a rollback brings the old one back,
// a pin sticks, and each is in the sysroot's history; ostree agrees with
// the deployments at every step.
func TestCenterOS(t *testing.T) {
	f := newSysroot(t, false)
	arbor := f.arbor
	c1 := f.commit(arbor, "1.0", nil)
	testutil.Run(t, arbor, "admin", "deploy", "--sysroot="+f.sr, "--os=testos", "testos/stable")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	osb := center.NewOS(f.sr)
	c := center.New(ctx, osb)
	do := func(req center.Request) center.Job {
		t.Helper()
		j, err := c.Start(req)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if j, err = c.Wait(wctx, j.ID); err != nil || j.State != center.Done {
			t.Fatalf("%s: %+v %v", req.Action, j, err)
		}
		return j
	}
	st, err := osb.Status(ctx)
	if err != nil || len(st.Stateroots) != 1 || len(st.Stateroots[0].Deployments) != 1 || st.Stateroots[0].Update != nil ||
		st.Stateroots[0].Deployments[0].Commit != c1 || st.Stateroots[0].Deployments[0].Version != "1.0" {
		t.Fatalf("status: %+v %v", st, err)
	}
	c2 := f.commit(arbor, "2.0", nil)
	do(center.Request{Action: center.ActRefresh})
	p, err := c.Items(ctx, center.Query{View: center.ViewUpdates})
	if err != nil || p.Total != 1 || p.Items[0].ID != "os/testos" || p.Items[0].AvailableCommit != c2 {
		t.Fatalf("updates: %+v %v", p, err)
	}
	do(center.Request{Action: center.ActUpdate, Item: "os/testos"})
	if d := deployments(f.status()); len(d) != 2 || d[0] != c2+".0" || d[1] != c1+".0" {
		t.Fatalf("after the upgrade: %v", d)
	}
	do(center.Request{Action: center.ActRollback, Item: "os/testos"})
	if d := deployments(f.status()); len(d) != 2 || d[0] != c1+".0" {
		t.Fatalf("after the rollback: %v", d)
	}
	do(center.Request{Action: center.ActPin, Item: "os/testos", Options: center.Options{Index: 1}})
	st, _ = osb.Status(ctx)
	if !st.Stateroots[0].Deployments[1].Pinned || st.Stateroots[0].Deployments[0].Pinned {
		t.Fatalf("after the pin: %+v", st.Stateroots[0].Deployments)
	}
	h, err := osb.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range h {
		ops = append(ops, e.Op)
	}
	want := []string{"os-pin", "os-rollback", "os-deploy", "os-deploy"}
	if len(ops) != len(want) {
		t.Fatalf("history %v, want %v", ops, want)
	}
	for i := range want {
		if ops[i] != want[i] {
			t.Fatalf("history %v, want %v", ops, want)
		}
	}
}
