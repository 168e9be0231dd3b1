package flatpak

import (
	"fmt"

	"arbor/sandbox"
	"arbor/store/keyfile"
)

// RunRequest is what `arbor run` was asked: an app by a name the
// installed apps complete, and the command line's permissions.
type RunRequest struct {
	Name    string           // ID, ID//BRANCH, ID/ARCH/BRANCH or a full ref
	Branch  string           // "": any installed branch
	Command string           // "": the app's command
	Perms   *sandbox.Context // the command line's, applied last (nil: none)
}

// RunPlan is how an installed app runs: its deployment and its runtime's,
// where their files are, which of them must be mounted first, and the
// permissions layered as flatpak layers them.
type RunPlan struct {
	Ref          Ref
	App, Runtime *Deployed
	AppFiles     string // the app's files, mounted at /app
	RuntimeFiles string // the runtime's, mounted at /usr
	// Lazy are the deployments that are not checked out: their files are
	// in their mounts, which the caller brings up unless they serve.
	Lazy    []*Deployed
	Perms   *sandbox.Context
	Command string
	// The installed extensions mounted below /app and /usr, highest
	// priority first.
	AppExtensions, RuntimeExtensions []MountedExtension
}

// Plan resolves a run: the app among the installed ones, its runtime,
// and the permissions: the runtime's environment only, the app's
// metadata, the user's overrides, then the command line.
func (in *Installation) Plan(req RunRequest) (*RunPlan, error) {
	installed, err := in.InstalledOf(App)
	if err != nil {
		return nil, fmt.Errorf("listing the installed apps: %w", err)
	}
	name := req.Name
	if req.Branch != "" {
		name += "//" + req.Branch
	}
	ref, err := Complete(name, App, installed)
	if err != nil {
		cur, ok := in.Current(req.Name)
		if !ok || req.Branch != "" {
			return nil, err
		}
		ref = cur // several branches: the current one, as flatpak runs it
	}
	app, err := in.Get(ref)
	if err != nil {
		return nil, err
	}
	rtRef, err := ParsePartial(Runtime, app.Metadata.Runtime)
	if err != nil {
		return nil, fmt.Errorf("%s: its runtime: %w", ref, err)
	}
	rt, err := in.Get(rtRef)
	if err != nil {
		return nil, fmt.Errorf("%s needs %s: %w", ref, rtRef, err)
	}
	p := &RunPlan{Ref: ref, App: app, Runtime: rt, Command: req.Command}
	for _, f := range []struct {
		d   *Deployed
		dir *string
	}{{app, &p.AppFiles}, {rt, &p.RuntimeFiles}} {
		dir, materialized := in.FilesDir(f.d)
		*f.dir = dir
		if !materialized {
			p.Lazy = append(p.Lazy, f.d)
		}
	}
	if err := p.addExtensions(in); err != nil {
		return nil, err
	}
	perms := sandbox.NewContext()
	// As flatpak sets it without an ld.so cache; the runtime's and the
	// app's [Environment] may still set their own.
	perms.Env["LD_LIBRARY_PATH"] = p.ldPath()
	for k, v := range rt.Metadata.Context.Env {
		perms.Env[k] = v
	}
	perms.Merge(app.Metadata.Context)
	over, err := in.Override(ref.ID)
	if err != nil {
		return nil, err
	}
	perms.Merge(over)
	if req.Perms != nil {
		perms.Merge(req.Perms)
	}
	p.Perms = perms
	if p.Command == "" {
		p.Command = app.Metadata.Command
	}
	if p.Command == "" {
		return nil, fmt.Errorf("%s has no command; give --command", ref)
	}
	return p, nil
}

// Info is /.flatpak-info with the keys flatpak writes, for the sandbox
// spec the app runs with as the instance named instanceID.
func (p *RunPlan) Info(spec sandbox.Spec, instanceID string) []byte {
	kf := keyfile.New()
	kf.Set("Application", "name", p.Ref.ID)
	kf.Set("Application", "runtime", p.Runtime.Ref.String())
	kf.Set("Instance", "instance-id", instanceID)
	kf.Set("Instance", "app-path", spec.App)
	kf.Set("Instance", "app-commit", p.App.Commit.String())
	kf.Set("Instance", "runtime-path", spec.Runtime)
	kf.Set("Instance", "runtime-commit", p.Runtime.Commit.String())
	kf.Set("Instance", "branch", p.Ref.Branch)
	kf.Set("Instance", "arch", p.Ref.Arch)
	kf.Set("Instance", "session-bus-proxy", "true")
	kf.Set("Instance", "system-bus-proxy", "true")
	p.setExtensionInfo(kf)
	p.Perms.Keyfile(kf, false)
	return kf.Bytes()
}

// addExtensions finds the installed extensions of the app and the
// runtime; those not checked out join the mounts to bring up.
func (p *RunPlan) addExtensions(in *Installation) error {
	installed, err := in.InstalledOf(Runtime)
	if err != nil {
		return fmt.Errorf("listing the installed runtimes: %w", err)
	}
	c := HostConditions()
	if p.AppExtensions, err = in.runExtensions(p.App, "/app", installed, c); err != nil {
		return err
	}
	if p.RuntimeExtensions, err = in.runExtensions(p.Runtime, "/usr", installed, c); err != nil {
		return err
	}
	for _, e := range append(append([]MountedExtension(nil), p.AppExtensions...), p.RuntimeExtensions...) {
		if _, materialized := in.FilesDir(e.Deployed); !materialized {
			p.Lazy = append(p.Lazy, e.Deployed)
		}
	}
	return nil
}
