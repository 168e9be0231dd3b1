package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"arbor/mountd"
)

// Scenarios of issue 7: OS deployments of a tree the size of the host's
// /usr, materialized against ostree admin deploy, and lazy (a thin
// client) against pulling and deploying first.

// osTree makes dir/root/usr the host's /usr with a kernel added, through
// overlayfs (the host's /usr has none, and is not written to), after
// reading /usr once so the page cache is warm; it returns the root, the
// bytes of /usr, and the function that takes the overlay down.
func osTree(e *env, dir string) (string, int64, func(), error) {
	st, err := warmTree("/usr")
	if err != nil {
		return "", 0, nil, err
	}
	root := filepath.Join(dir, "root")
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	kdir := filepath.Join(upper, "lib/modules/6.1.0-bench")
	for _, d := range []string{filepath.Join(root, "usr"), kdir, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", 0, nil, err
		}
	}
	for name, content := range map[string]string{"vmlinuz": "KERNEL\n", "initramfs.img": "INITRAMFS\n"} {
		if err := os.WriteFile(filepath.Join(kdir, name), []byte(content), 0o644); err != nil {
			return "", 0, nil, err
		}
	}
	usr := filepath.Join(root, "usr")
	if _, err := run(e, []string{"mount", "-t", "overlay", "overlay", "-o",
		"lowerdir=/usr,upperdir=" + upper + ",workdir=" + work, usr}); err != nil {
		return "", 0, nil, err
	}
	return root, st.bytes, func() { run(e, []string{"umount", usr}) }, nil
}

// adminDeployScenario: deploy a /usr-sized commit already in the store.
// Both sysroots are on one fresh filesystem and share the objects
// (ostree's is filled by pull-local, which links them), so both tools
// check out the same inodes.
func adminDeployScenario() *scenario {
	const name = "admin-deploy"
	fs := func(e *env) string { return e.dir(name, "fs") }
	sr := func(e *env, tool string) string { return filepath.Join(fs(e), tool) }
	deploy := func(bin func(e *env) string, label string) tool {
		return tool{name: label,
			argv: func(e *env) []string {
				return []string{bin(e), "admin", "deploy", "--sysroot=" + sr(e, label), "--os=bench", "bench/os"}
			},
			clean: func(e *env) error {
				_, err := run(e, []string{bin(e), "admin", "undeploy", "--sysroot=" + sr(e, label), "0"})
				return err
			}}
	}
	var usrBytes int64
	return &scenario{
		name: name,
		setup: func(e *env) error {
			root, size, done, err := osTree(e, e.dir(name))
			if err != nil {
				return err
			}
			usrBytes = size
			defer done()
			if err := e.mountFreshSize(fs(e), 2*usrBytes+1<<30); err != nil {
				return err
			}
			a, o := sr(e, "arbor"), sr(e, "ostree")
			logf("%s: committing /usr (%s) with a kernel", name, humanBytes(usrBytes))
			return runAll(e, [][]string{
				{e.arbor, "admin", "init-fs", a},
				{e.arbor, "admin", "os-init", "--sysroot=" + a, "bench"},
				{e.arbor, "--repo=" + a + "/ostree/repo", "commit", "-b", "bench/os", "--tree=dir=" + root},
				{"mkdir", "-p", o},
				{e.ostree, "admin", "init-fs", o},
				{e.ostree, "admin", "os-init", "--sysroot=" + o, "bench"},
				{e.ostree, "--repo=" + o + "/ostree/repo", "config", "set", "sysroot.bootloader", "none"},
				{e.ostree, "--repo=" + o + "/ostree/repo", "pull-local", a + "/ostree/repo", "bench/os"},
			})
		},
		tools: []tool{
			deploy(func(e *env) string { return e.arbor }, "arbor"),
			deploy(func(e *env) string { return e.ostree }, "ostree"),
		},
		teardown: func(e *env) error { return e.unmountFresh(fs(e)) },
		targets:  []target{{peer: 1, max: 1.0}},
		notes: func() []string {
			return []string{fmt.Sprintf("The commit is the host's /usr (%s) with a kernel; each run deploys it into an empty stateroot, and is undeployed after (untimed).", humanBytes(usrBytes))}
		},
	}
}

// thinClientScenario: from nothing, deploy a remote /usr-sized OS and run
// sh -c true and python3 in it. arbor deploys lazily and enters; the peer
// pulls with ostree, deploys with ostree admin and runs the same commands
// with bwrap. Bytes are what nginx sent.
func thinClientScenario(n network) *scenario {
	name := n.name("admin-thin-client")
	var srv *server
	var key *signingKey
	var usrBytes int64
	const python = "import json"
	fs := func(e *env, tool string) string { return e.dir(name, tool+"-fs") }
	sr := func(e *env, tool string) string { return filepath.Join(fs(e, tool), "sysroot") }
	bytes := func(e *env) (int64, error) { return srv.BytesSent() }
	link := func() *server { return srv }
	prepare := func(tool string, size func() int64, argv func(e *env) [][]string) func(e *env) error {
		return func(e *env) error {
			if err := e.mountFreshSize(fs(e, tool), size()); err != nil {
				return err
			}
			if err := os.MkdirAll(sr(e, tool), 0o755); err != nil {
				return err
			}
			if err := runAll(e, argv(e)); err != nil {
				return err
			}
			return srv.ResetLog()
		}
	}
	return &scenario{
		name:    name,
		maxRuns: 1,
		setup: func(e *env) error {
			root, size, done, err := osTree(e, e.dir(name))
			if err != nil {
				return err
			}
			usrBytes = size
			defer done()
			pub := e.dir(name, "pub")
			logf("%s: publishing /usr (%s) with a kernel, signed", name, humanBytes(usrBytes))
			// Signed, as an OS vendor's is; both clients verify.
			if key, err = newSigningKey(e, e.dir(name), "Arbor Bench OS"); err != nil {
				return err
			}
			if err := runAll(e, [][]string{
				{e.arbor, "--repo=" + pub, "init", "--mode=archive"},
				append([]string{e.arbor, "--repo=" + pub, "commit", "-b", "bench/os", "--tree=dir=" + root}, key.flags()...),
				append([]string{e.arbor, "--repo=" + pub, "summary", "-u"}, key.flags()...),
			}); err != nil {
				return err
			}
			srv, err = n.serve(e.dir(name, "nginx"), pub)
			return err
		},
		tools: []tool{
			{name: "arbor",
				prepare: prepare("arbor", func() int64 { return 1 << 30 }, func(e *env) [][]string {
					s := sr(e, "arbor")
					return [][]string{
						{e.arbor, "admin", "init-fs", s},
						{e.arbor, "admin", "os-init", "--sysroot=" + s, "bench"},
						{e.arbor, "--repo=" + s + "/ostree/repo", "remote", "add", "--gpg-import=" + key.public, "origin", srv.URL},
					}
				}),
				argv: func(e *env) []string {
					s := sr(e, "arbor")
					return sh(fmt.Sprintf("%[1]s admin deploy --sysroot=%[2]s --os=bench --lazy origin:bench/os >/dev/null && "+
						"%[1]s admin enter --sysroot=%[2]s -- sh -c true && %[1]s admin enter --sysroot=%[2]s -- python3 -c '%[3]s'",
						e.arbor, s, python))
				},
				bytes: bytes, server: link,
				clean: func(e *env) error {
					mountd.Stop(filepath.Join(sr(e, "arbor"), "ostree/repo"), 10*time.Second)
					return e.unmountFresh(fs(e, "arbor"))
				}},
			{name: "ostree pull+deploy",
				prepare: prepare("ostree", func() int64 { return 3*usrBytes + 1<<30 }, func(e *env) [][]string {
					s := sr(e, "ostree")
					return [][]string{
						{e.ostree, "admin", "init-fs", s},
						{e.ostree, "admin", "os-init", "--sysroot=" + s, "bench"},
						{e.ostree, "--repo=" + s + "/ostree/repo", "config", "set", "sysroot.bootloader", "none"},
						{e.ostree, "--repo=" + s + "/ostree/repo", "remote", "add", "--gpg-import=" + key.public, "origin", srv.URL},
					}
				}),
				argv: func(e *env) []string {
					s := sr(e, "ostree")
					bw := "bwrap --ro-bind %[3]s/usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin " +
						"--proc /proc --dev /dev --unshare-all --die-with-parent"
					return sh(fmt.Sprintf("%[1]s --repo=%[2]s/ostree/repo pull origin bench/os >/dev/null && "+
						"%[1]s admin deploy --sysroot=%[2]s --os=bench origin:bench/os >/dev/null && "+
						"d=$(ls -d %[2]s/ostree/deploy/bench/deploy/*.0) && "+bw+" sh -c true && "+bw+" python3 -c '%[4]s'",
						e.ostree, s, "$d", python))
				},
				bytes: bytes, server: link,
				clean: func(e *env) error { return e.unmountFresh(fs(e, "ostree")) }},
		},
		teardown: func(e *env) error {
			if srv != nil {
				srv.Stop()
			}
			if key != nil {
				key.close(e)
			}
			return nil
		},
		targets: []target{{peer: 1, max: 0.1}, {peer: 1, max: 0.03, onBytes: true}},
		notes: func() []string {
			return []string{fmt.Sprintf("The OS is the host's /usr (%s) with a kernel, signed; both clients verify. The peer's bytes are all of it, compressed.", humanBytes(usrBytes)),
				"One run per tool: the peer's pull takes minutes.", n.note(name)}
		},
	}
}
