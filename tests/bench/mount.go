package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"arbor/mountd"
	"arbor/mountd/mountinfo"
)

// Scenarios of issue 4: lazy mounts against a pull + checkout, and warm
// mounts against a hardlink checkout of the same commit.

// sh runs a shell command line (the timed unit of the mount scenarios).
func sh(line string) []string { return []string{"/bin/sh", "-c", line} }

// deepestFile is the regular, non-empty file of tree with the most path
// components (the first in byte order among those).
func deepestFile(tree string) (string, error) {
	best, depth := "", -1
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil || fi.Size() == 0 {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		if n := strings.Count(rel, "/"); n > depth {
			best, depth = rel, n
		}
		return nil
	})
	if best == "" && err == nil {
		err = fmt.Errorf("%s has no regular file", tree)
	}
	return best, err
}

// publishTree makes an archive repo of the tree with ostree, its summary
// with arbor (which adds what arbor's mounts use), and serves it.
func publishTree(e *env, dir string, n network) (*server, error) {
	pub := filepath.Join(dir, "published")
	if _, err := run(e, []string{e.ostree, "--repo=" + pub, "init", "--mode=archive"}); err != nil {
		return nil, err
	}
	if _, err := run(e, commitArgs(e.ostree, pub, e.tree)); err != nil {
		return nil, err
	}
	if _, err := run(e, []string{e.arbor, "--repo=" + pub, "summary", "-u"}); err != nil {
		return nil, err
	}
	return n.serve(filepath.Join(dir, "nginx"), pub)
}

// daemonRSS is the resident memory of repo's daemon, in bytes.
func daemonRSS(repo string) int64 {
	pid := mountd.DaemonPID(repo)
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// remoteClient is a per-run client: a fresh filesystem with an empty
// bare-user repo whose origin is the published tree.
type remoteClient struct {
	name string
	srv  **server
}

func (c remoteClient) fs(e *env) string   { return e.dir(c.name, "client-fs") }
func (c remoteClient) repo(e *env) string { return filepath.Join(c.fs(e), "repo") }
func (c remoteClient) mnt(e *env) string  { return filepath.Join(c.fs(e), "mnt") }

func (c remoteClient) prepare(e *env, bin string) error {
	if err := e.mountFresh(c.fs(e)); err != nil {
		return err
	}
	if err := os.MkdirAll(c.mnt(e), 0o755); err != nil {
		return err
	}
	if _, err := run(e, []string{bin, "--repo=" + c.repo(e), "init", "--mode=bare-user"}); err != nil {
		return err
	}
	if _, err := run(e, []string{bin, "--repo=" + c.repo(e), "remote", "add", "--no-gpg-verify", "origin", (*c.srv).URL}); err != nil {
		return err
	}
	return (*c.srv).ResetLog()
}

func (c remoteClient) clean(e *env) error {
	if mountinfo.IsArbor(c.mnt(e)) {
		run(e, []string{e.arbor, "--repo=" + c.repo(e), "umount", c.mnt(e)})
	}
	mountd.Stop(c.repo(e), 10*time.Second)
	return e.unmountFresh(c.fs(e))
}

// firstByteScenario: from nothing to the first byte of the deepest file:
// arbor mounts the remote commit and reads; ostree pulls it whole and
// checks it out first. Bytes are what nginx sent.
func firstByteScenario(n network) *scenario {
	name := n.name("mount-first-byte")
	var srv *server
	var deep string
	arbor := remoteClient{name: name, srv: &srv}
	withPrefetch := remoteClient{name: name, srv: &srv}
	peer := remoteClient{name: name, srv: &srv}
	bytes := func(e *env) (int64, error) { return srv.BytesSent() }
	link := func() *server { return srv }
	mountAndRead := func(c remoteClient, flags string) func(e *env) []string {
		return func(e *env) []string {
			return sh(fmt.Sprintf("%s --repo=%s mount %s origin:bench %s >/dev/null && head -c1 %s >/dev/null",
				e.arbor, c.repo(e), flags, c.mnt(e), filepath.Join(c.mnt(e), deep)))
		}
	}
	return &scenario{
		name: name,
		setup: func(e *env) error {
			var err error
			if deep, err = deepestFile(e.tree); err != nil {
				return err
			}
			logf("%s: reading %s", name, deep)
			srv, err = publishTree(e, e.dir(name), n)
			return err
		},
		tools: []tool{
			{name: "arbor", prepare: func(e *env) error { return arbor.prepare(e, e.arbor) },
				argv: mountAndRead(arbor, "--no-prefetch"), bytes: bytes, clean: arbor.clean, server: link},
			{name: "ostree", prepare: func(e *env) error { return peer.prepare(e, e.ostree) },
				argv: func(e *env) []string {
					co := filepath.Join(peer.fs(e), "co")
					return sh(fmt.Sprintf("%[1]s --repo=%[2]s pull origin bench >/dev/null && %[1]s --repo=%[2]s checkout -U bench %[3]s && head -c1 %[4]s >/dev/null",
						e.ostree, peer.repo(e), co, filepath.Join(co, deep)))
				},
				bytes: bytes, clean: peer.clean, server: link},
			{name: "arbor, prefetch on", prepare: func(e *env) error { return withPrefetch.prepare(e, e.arbor) },
				argv: mountAndRead(withPrefetch, ""), clean: withPrefetch.clean},
		},
		teardown: func(e *env) error {
			if srv != nil {
				srv.Stop()
			}
			return nil
		},
		targets: n.firstByteTargets(),
		minRuns: n.minRuns(5),
		maxRuns: n.maxRuns(),
		notes: func() []string {
			return nonEmpty(name+": at least five runs per tool: one disturbed run of tens of milliseconds should not make the median.", n.note(name))
		},
	}
}

// localMount is a bare-user repo holding a commit of dir, a hardlink
// checkout of it and a mount of it, on one filesystem.
type localMount struct{ name string }

func (l localMount) fs(e *env) string   { return e.dir(l.name, "fs") }
func (l localMount) repo(e *env) string { return filepath.Join(l.fs(e), "repo") }
func (l localMount) co(e *env) string   { return filepath.Join(l.fs(e), "co") }
func (l localMount) mnt(e *env) string  { return filepath.Join(l.fs(e), "mnt") }

func (l localMount) setup(e *env, tree string, flags ...string) error {
	if err := e.mountFresh(l.fs(e)); err != nil {
		return err
	}
	if err := os.MkdirAll(l.mnt(e), 0o755); err != nil {
		return err
	}
	steps := [][]string{
		{e.arbor, "--repo=" + l.repo(e), "init", "--mode=bare-user"},
		commitArgs(e.arbor, l.repo(e), tree),
		{e.arbor, "--repo=" + l.repo(e), "checkout", "bench", l.co(e)},
		append(append([]string{e.arbor, "--repo=" + l.repo(e), "mount"}, flags...), "bench", l.mnt(e)),
	}
	for _, s := range steps {
		if _, err := run(e, s); err != nil {
			return err
		}
	}
	return nil
}

func (l localMount) teardown(e *env) error {
	run(e, []string{e.arbor, "--repo=" + l.repo(e), "umount", l.mnt(e)})
	mountd.Stop(l.repo(e), 10*time.Second)
	return e.unmountFresh(l.fs(e))
}

// warmScenario runs one command over a warm mount and over a warm
// hardlink checkout of the same commit.
func warmScenario(name string, max float64, cmd func(dir string) string) *scenario {
	l := localMount{name: name}
	return &scenario{
		name: name,
		setup: func(e *env) error {
			if err := l.setup(e, e.tree); err != nil {
				return err
			}
			for _, d := range []string{l.mnt(e), l.co(e)} { // warm both
				if _, err := run(e, sh(cmd(d))); err != nil {
					return err
				}
			}
			return nil
		},
		tools: []tool{
			{name: "arbor", argv: func(e *env) []string { return sh(cmd(l.mnt(e))) }},
			{name: "checkout", argv: func(e *env) []string { return sh(cmd(l.co(e))) }},
		},
		teardown: l.teardown,
		targets:  []target{{peer: 1, max: max}},
	}
}

// bigReadScenario reads a 1 GiB file warm through a mount and natively;
// also through a passthrough mount.
func bigReadScenario() *scenario {
	const name = "mount-read-1g"
	l := localMount{name: name}
	pt := func(e *env) string { return filepath.Join(l.fs(e), "mnt-passthrough") }
	cat := func(p string) []string { return sh("cat " + p + " >/dev/null") }
	return &scenario{
		name: name,
		setup: func(e *env) error {
			src := e.dir(name, "src")
			if err := os.MkdirAll(src, 0o755); err != nil {
				return err
			}
			if _, err := run(e, []string{"dd", "if=/dev/urandom", "of=" + filepath.Join(src, "big"), "bs=1M", "count=1024", "status=none"}); err != nil {
				return err
			}
			if err := l.setup(e, src); err != nil {
				return err
			}
			if err := os.MkdirAll(pt(e), 0o755); err != nil {
				return err
			}
			if _, err := run(e, []string{e.arbor, "--repo=" + l.repo(e), "mount", "--passthrough", "bench", pt(e)}); err != nil {
				return err
			}
			for _, d := range []string{l.mnt(e), l.co(e), pt(e)} {
				if _, err := run(e, cat(filepath.Join(d, "big"))); err != nil {
					return err
				}
			}
			return os.RemoveAll(src)
		},
		tools: []tool{
			{name: "arbor", argv: func(e *env) []string { return cat(filepath.Join(l.mnt(e), "big")) }},
			{name: "native", argv: func(e *env) []string { return cat(filepath.Join(l.co(e), "big")) }},
			{name: "arbor --passthrough", argv: func(e *env) []string { return cat(filepath.Join(pt(e), "big")) }},
		},
		teardown: func(e *env) error {
			run(e, []string{e.arbor, "--repo=" + l.repo(e), "umount", pt(e)})
			return l.teardown(e)
		},
		// At least 0.9x the native throughput: at most 1/0.9 of its time.
		targets: []target{{peer: 1, max: 1 / 0.9}},
	}
}

// coldFindScenario: mount a remote commit and find over it at once,
// nothing fetched before (metadata only: find reads no file; the mount
// loads the commit's tree index), against find over such a mount once warm.
func coldFindScenario() *scenario {
	const name = "mount-cold-find"
	var srv *server
	var rss []int64
	cold := remoteClient{name: name, srv: &srv}
	warm := remoteClient{name: name + "-warm", srv: &srv}
	return &scenario{
		name: name,
		setup: func(e *env) error {
			var err error
			if srv, err = publishTree(e, e.dir(name), loopback); err != nil {
				return err
			}
			if err := os.MkdirAll(e.dir(warm.name), 0o755); err != nil {
				return err
			}
			if err := warm.prepare(e, e.arbor); err != nil {
				return err
			}
			for _, s := range [][]string{
				{e.arbor, "--repo=" + warm.repo(e), "mount", "origin:bench", warm.mnt(e)},
				sh("find " + warm.mnt(e) + " >/dev/null"),
			} {
				if _, err := run(e, s); err != nil {
					return err
				}
			}
			return nil
		},
		tools: []tool{
			{name: "arbor", prepare: func(e *env) error { return cold.prepare(e, e.arbor) },
				argv: func(e *env) []string {
					return sh(fmt.Sprintf("%s --repo=%s mount origin:bench %s >/dev/null && find %s >/dev/null",
						e.arbor, cold.repo(e), cold.mnt(e), cold.mnt(e)))
				},
				clean: func(e *env) error {
					rss = append(rss, daemonRSS(cold.repo(e)))
					return cold.clean(e)
				}},
			{name: "warm find", argv: func(e *env) []string { return sh("find " + warm.mnt(e) + " >/dev/null") }},
		},
		teardown: func(e *env) error {
			warm.clean(e)
			if srv != nil {
				srv.Stop()
			}
			return nil
		},
		targets: []target{{peer: 1, max: 3}},
		notes: func() []string {
			var parts []string
			for _, r := range rss {
				parts = append(parts, humanBytes(r))
			}
			return []string{fmt.Sprintf("%s: daemon resident memory after each cold find: %s", name, strings.Join(parts, ", "))}
		},
	}
}
