// Command bench measures arbor against its peers (the real ostree, and
// cp -al for checkouts) in one run, on the same data, and prints the ratios
// as a markdown table. Measuring both sides in the same invocation, with the
// runs interleaved, is what makes the ratios meaningful: machine noise, cache
// state and thermal drift hit both tools alike.
//
// Usage (normally via `make bench`):
//
//	go run ./tests/bench -arbor=./bin/arbor [-ostree=/usr/bin/ostree]
//	    [-tree=/usr/share] [-runs=3] [-work=DIR] [-out=FILE]
//	    [-only=commit-archive,commit-bare-user,checkout] [-timeout=30m] [-keep]
//
// To add a scenario (e.g. a pull from an HTTP server), write a function
// returning a *scenario and list it in allScenarios: setup starts whatever
// is shared (a server, a source repo), each tool says how to prepare, run
// and clean up one timed run, and targets state the ratios to meet.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// env is what every scenario may use: the binaries, the input tree and a
// scratch root on one filesystem (so checkouts can hardlink). A scenario
// keeps its files under e.dir(its name), which the driver creates and removes.
type env struct {
	arbor   string        // arbor binary (absolute)
	ostree  string        // peer ostree binary
	tree    string        // input tree (absolute)
	work    string        // scratch root for this invocation
	timeout time.Duration // per command
	// freshFS puts every repo on an ext4 filesystem made for it, so no run
	// pays for another's deleted inodes (ext4 scans recently freed inodes
	// on allocation) and both tools start from the same state.
	freshFS   bool
	treeBytes int64
	// trace, when set, is a directory where each timed run's requests
	// are written with their times, to see a critical path.
	trace string
	// atExit runs, last first, after every scenario: for what scenarios
	// share (a catalogue built once, its servers).
	atExit []func()
	// keep leaves every scenario's files in place (-keep), to rerun a
	// tool by hand on them.
	keep bool
}

// mountFresh makes dir the mount point of a new, empty ext4 filesystem
// (or just a directory without -fresh-fs).
func (e *env) mountFresh(dir string) error {
	return e.mountFreshSize(dir, 4*e.treeBytes+1<<30)
}

// mountFreshSize is mountFresh with a filesystem of size bytes (sparse).
func (e *env) mountFreshSize(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !e.freshFS {
		return nil
	}
	img := dir + ".img"
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	f.Close()
	if err != nil {
		return err
	}
	if _, err := run(e, []string{"mkfs.ext4", "-q", "-F", img}); err != nil {
		return err
	}
	_, err = run(e, []string{"mount", "-o", "loop", img, dir})
	return err
}

// unmountFresh undoes mountFresh.
func (e *env) unmountFresh(dir string) error {
	if e.freshFS {
		if _, err := run(e, []string{"umount", dir}); err != nil {
			return err
		}
		if err := os.Remove(dir + ".img"); err != nil {
			return err
		}
	}
	return removeAll(dir)
}

// dir returns a path under the scratch root.
func (e *env) dir(parts ...string) string {
	return filepath.Join(append([]string{e.work}, parts...)...)
}

// tool is one contender in a scenario. Only run is timed; prepare and clean
// happen around every timed run so outputs never carry over between runs.
type tool struct {
	name     string
	prepare  func(e *env) error    // untimed, before each run (may be nil)
	argv     func(e *env) []string // the timed command
	clean    func(e *env) error    // untimed, after each run (may be nil)
	checksum bool                  // last stdout line is a commit checksum to compare
	// bytes, when set, is read after each timed run: bytes it moved (e.g.
	// on the wire), compared like time when a target asks for it.
	bytes func(e *env) (int64, error)
	// measure, when set, is the timed run instead of argv: the tool times
	// itself and says what it measured (a page's latency, a daemon's
	// memory), for what no whole process stands for.
	measure func(e *env) (sample, error)
	// server, when set, is what the tool fetches from: the round trips
	// its link counted in each run are reported.
	server func() *server
}

// target is a goal for the ratio tools[tool] / tools[peer].
type target struct {
	tool int     // index into scenario.tools of the measured one: 0, arbor, unless set
	peer int     // index into scenario.tools
	max  float64 // ratio must be <= max
	// onBytes compares bytes moved instead of wall time.
	onBytes bool
	// abs, when set, is a goal for arbor's own median wall time instead of
	// the ratio (the ratio is still shown).
	abs time.Duration
	// absBytes, when set, is a goal for arbor's own median bytes (memory,
	// in MB) instead of a ratio of times (the ratio is still shown).
	absBytes int64
}

// scenario is one benchmark row (or several, one per target). tools[0] is
// always arbor; the rest are peers.
type scenario struct {
	name     string
	setup    func(e *env) error // untimed, once before the runs (may be nil)
	tools    []tool
	teardown func(e *env) error // untimed, once after the runs (may be nil)
	targets  []target
	// notes, when set, adds lines under the report after the runs.
	notes func() []string
	// maxRuns, when set, caps -runs for a scenario whose runs take minutes.
	maxRuns int
	// minRuns, when set, raises -runs for a scenario whose figure is a
	// latency of tens of milliseconds, so that one disturbed run does not
	// make the median.
	minRuns int
}

// sample is one timed run of one tool.
type sample struct {
	wall, cpu time.Duration
	bytes     int64
	maxRSS    int64 // the process's peak resident memory, in bytes
	stdout    string
	stderr    string
	// trips and conns are the round trips and connections an emulated
	// link counted (0 on loopback).
	trips, conns int64
}

// result is everything measured for one scenario.
type result struct {
	sc      *scenario
	samples [][]sample // [tool][run]
	err     error      // first failure; the scenario stops there
	notes   []string   // checksum comparison etc., printed under the table
}

func allScenarios() []*scenario {
	return []*scenario{
		commitScenario("commit-archive", "archive", 0.25),
		commitScenario("commit-bare-user", "bare-user", 0.6),
		checkoutScenario(),
		pullScenario(loopback),
		deltaPullScenario(loopback),
		deltaGenerateScenario("delta-generate", "the bench tree's update (deltaChanges)", deltaPublish),
		// Files up to 64 MB inside the delta, for both tools: the
		// library's 4.7 MB libcrypto would be a fallback at ostree's 4 MB.
		deltaGenerateScenario("delta-generate-lib", "libssl3's update between its two newest Debian versions", libPublish, "--min-fallback-size=64"),
		deltaGenerate1GScenario(),
		firstByteScenario(loopback),
		warmScenario("mount-find", 1.3, func(dir string) string { return "find " + dir + " >/dev/null" }),
		warmScenario("mount-tar", 1.2, func(dir string) string { return "tar cf - -C " + dir + " . | wc -c >/dev/null" }),
		bigReadScenario(),
		coldFindScenario(),
		sandboxScenario(),
		appRunScenario(),
		appRunBusScenario(),
		pythonScenario(loopback),
		adminDeployScenario(),
		thinClientScenario(loopback),
		flatpakAppScenario(loopback),
		centerFirstPageScenario(),
		centerSearchScenario(),
		centerMemoryScenario(),
		centerInstallScenario(),
		// The same over an emulated wide area link, where round trips cost.
		pullScenario(wan),
		deltaPullScenario(wan),
		firstByteScenario(wan),
		pythonScenario(wan),
		thinClientScenario(wan),
		flatpakAppScenario(wan),
	}
}

// commitArgs is the commit both tools run; fixed owner, timestamp and no
// xattrs make the resulting commit checksum deterministic and comparable.
func commitArgs(bin, repo, tree string) []string {
	return []string{bin, "--repo=" + repo, "commit", "-b", "bench",
		"--no-xattrs", "--owner-uid=0", "--owner-gid=0",
		"--timestamp=@1700000000", "-s", "bench", "--tree=dir=" + tree}
}

// commitScenario times a commit of the tree into a fresh repo per run.
func commitScenario(name, mode string, max float64) *scenario {
	mk := func(label string, bin func(e *env) string) tool {
		fs := func(e *env) string { return e.dir(name, label+"-fs") }
		repo := func(e *env) string { return filepath.Join(fs(e), "repo") }
		return tool{
			name: label,
			prepare: func(e *env) error {
				if err := e.mountFresh(fs(e)); err != nil {
					return err
				}
				_, err := run(e, []string{bin(e), "--repo=" + repo(e), "init", "--mode=" + mode})
				return err
			},
			argv:     func(e *env) []string { return commitArgs(bin(e), repo(e), e.tree) },
			clean:    func(e *env) error { return e.unmountFresh(fs(e)) },
			checksum: true,
		}
	}
	return &scenario{
		name: name,
		tools: []tool{
			mk("arbor", func(e *env) string { return e.arbor }),
			mk("ostree", func(e *env) string { return e.ostree }),
		},
		targets: []target{{peer: 1, max: max}},
	}
}

// checkoutScenario times `checkout -U` from a bare-user repo that each tool
// committed itself, plus `cp -al` of ostree's checkout as the floor a
// hardlink checkout can hope for.
func checkoutScenario() *scenario {
	const name = "checkout"
	// Each tool's repo and outputs share one fresh filesystem, so links work.
	fs := func(e *env, label string) string { return e.dir(name, label+"-fs") }
	repo := func(e *env, label string) string { return filepath.Join(fs(e, label), "repo") }
	out := func(e *env, label string) string { return filepath.Join(fs(e, label), "out") }
	src := func(e *env) string { return filepath.Join(fs(e, "ostree"), "ostree-checkout") }
	mk := func(label string, bin func(e *env) string) tool {
		return tool{
			name:    label,
			prepare: func(e *env) error { return removeAll(out(e, label)) },
			argv: func(e *env) []string {
				return []string{bin(e), "--repo=" + repo(e, label), "checkout", "-U", "bench", out(e, label)}
			},
			clean: func(e *env) error { return removeAll(out(e, label)) },
		}
	}
	arbor := func(e *env) string { return e.arbor }
	ostree := func(e *env) string { return e.ostree }
	return &scenario{
		name: name,
		setup: func(e *env) error {
			for _, t := range []struct {
				label string
				bin   func(e *env) string
			}{{"arbor", arbor}, {"ostree", ostree}} {
				r := repo(e, t.label)
				if err := e.mountFresh(fs(e, t.label)); err != nil {
					return err
				}
				if _, err := run(e, []string{t.bin(e), "--repo=" + r, "init", "--mode=bare-user"}); err != nil {
					return err
				}
				if _, err := run(e, commitArgs(t.bin(e), r, e.tree)); err != nil {
					return err
				}
			}
			// cp -al's source: ostree's own checkout, so cp links the same files.
			_, err := run(e, []string{e.ostree, "--repo=" + repo(e, "ostree"), "checkout", "-U", "bench", src(e)})
			return err
		},
		tools: []tool{
			mk("arbor", arbor),
			mk("ostree", ostree),
			{
				name:    "cp -al",
				prepare: func(e *env) error { return removeAll(out(e, "ostree") + "-cp") },
				argv:    func(e *env) []string { return []string{"cp", "-al", src(e), out(e, "ostree") + "-cp"} },
				clean:   func(e *env) error { return removeAll(out(e, "ostree") + "-cp") },
			},
		},
		teardown: func(e *env) error {
			for _, l := range []string{"arbor", "ostree"} {
				if err := e.unmountFresh(fs(e, l)); err != nil {
					return err
				}
			}
			return nil
		},
		targets: []target{{peer: 1, max: 1.0}, {peer: 2, max: 1.3}},
	}
}

// cmdError names the failing command and carries its stderr, so a broken
// arbor subcommand is diagnosable from the bench log alone.
type cmdError struct {
	argv   []string
	err    error
	stderr string
}

func (c *cmdError) Error() string {
	s := fmt.Sprintf("command failed: %s: %v", strings.Join(c.argv, " "), c.err)
	if t := strings.TrimSpace(c.stderr); t != "" {
		s += "\n  stderr: " + strings.ReplaceAll(t, "\n", "\n  stderr: ")
	}
	return s
}

// run executes argv and measures the whole process: wall clock from start to
// reaped, and user+sys CPU from the kernel's rusage.
func run(e *env, argv []string) (sample, error) {
	ctx := context.Background()
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (timeout %v)", err, e.timeout)
		}
		return sample{}, &cmdError{argv: argv, err: err, stderr: stderr.String()}
	}
	ps := cmd.ProcessState
	s := sample{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), stdout: stdout.String(), stderr: stderr.String()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	return s, nil
}

// peakWrapArg makes the bench a small wrapper that runs a command and
// reports its peak memory (runPeak).
const peakWrapArg = "-peak-wrap"

// runPeak is run, with the process's peak resident memory as its own. A
// child's peak as the kernel reports it starts at its parent's (exec
// takes over the peak of the address space it replaces, and Go starts
// children sharing it), so a command the bench runs after reading a
// gigabyte would report a gigabyte. A fresh copy of the bench, a few
// MB, runs it instead and says the command's own peak on stderr's last
// line.
func runPeak(e *env, argv []string) (sample, error) {
	self, err := os.Executable()
	if err != nil {
		return sample{}, err
	}
	s, err := run(e, append([]string{self, peakWrapArg}, argv...))
	if err != nil {
		return s, err
	}
	lines := strings.Split(strings.TrimSpace(s.stderr), "\n")
	if _, err := fmt.Sscanf(lines[len(lines)-1], "peak-rss %d", &s.maxRSS); err != nil {
		return s, fmt.Errorf("%s: no peak memory reported: %q", argv[0], s.stderr)
	}
	return s, nil
}

func peakWrap(argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 127
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintf(os.Stderr, "\npeak-rss %d\n", ru.Maxrss<<10)
	}
	return cmd.ProcessState.ExitCode()
}

// runAll runs commands one after another, stopping at the first failure.
func runAll(e *env, argvs [][]string) error {
	for _, argv := range argvs {
		if _, err := run(e, argv); err != nil {
			return err
		}
	}
	return nil
}

// removeAll is os.RemoveAll that also copes with read-only directories
// (checkouts keep the committed modes), which matters when not root.
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// runScenario runs setup, then runs× every tool interleaved (arbor, peer,
// arbor, peer…) so slow drift affects all columns equally, then teardown.
func runScenario(e *env, sc *scenario, runs int) *result {
	r := &result{sc: sc, samples: make([][]sample, len(sc.tools))}
	fail := func(err error) *result {
		r.err = err
		logf("%s: FAILED: %v", sc.name, err)
		return r
	}
	// Each scenario owns e.dir(sc.name), fresh at start and gone at the end,
	// so scenarios cannot see each other's leftovers or fill the disk.
	if err := os.MkdirAll(e.dir(sc.name), 0o755); err != nil {
		return fail(err)
	}
	defer func() {
		if sc.teardown != nil {
			if err := sc.teardown(e); err != nil {
				logf("%s: teardown: %v", sc.name, err)
			}
		}
		if e.keep {
			return
		}
		if err := removeAll(e.dir(sc.name)); err != nil {
			logf("%s: removing scratch: %v", sc.name, err)
		}
	}()
	if sc.setup != nil {
		logf("%s: setup", sc.name)
		if err := sc.setup(e); err != nil {
			return fail(fmt.Errorf("setup: %w", err))
		}
	}
	// What setup and prepare wrote goes to disk before a timed run, so
	// that its writeback does not land in one (untimed).
	syscall.Sync()
	if sc.maxRuns > 0 && runs > sc.maxRuns {
		runs = sc.maxRuns
	}
	if runs < sc.minRuns {
		runs = sc.minRuns
	}
	for i := 0; i < runs; i++ {
		for ti, t := range sc.tools {
			if t.prepare != nil {
				if err := t.prepare(e); err != nil {
					return fail(fmt.Errorf("%s prepare: %w", t.name, err))
				}
				syscall.Sync()
			}
			var s sample
			var err error
			start := time.Now()
			if t.measure != nil {
				s, err = t.measure(e)
			} else {
				s, err = run(e, t.argv(e))
			}
			if err != nil {
				return fail(fmt.Errorf("%s: %w", t.name, err))
			}
			if t.bytes != nil {
				if s.bytes, err = t.bytes(e); err != nil {
					return fail(fmt.Errorf("%s bytes: %w", t.name, err))
				}
			}
			if t.server != nil {
				s.trips, s.conns = t.server().trips()
				if err := e.writeTrace(fmt.Sprintf("%s-%s-%d", sc.name, t.name, i+1), start, t.server()); err != nil {
					return fail(fmt.Errorf("%s trace: %w", t.name, err))
				}
			}
			r.samples[ti] = append(r.samples[ti], s)
			logf("%s: run %d/%d %-7s wall %.3fs cpu %.3fs", sc.name, i+1, runs, t.name, s.wall.Seconds(), s.cpu.Seconds())
			if t.clean != nil {
				if err := t.clean(e); err != nil {
					return fail(fmt.Errorf("%s clean: %w", t.name, err))
				}
			}
		}
	}
	r.compareChecksums()
	r.noteTrips()
	if sc.notes != nil {
		r.notes = append(r.notes, sc.notes()...)
	}
	return r
}

// noteTrips says, for the tools whose link counted, the round trips and
// connections of their median run (by wall time).
func (r *result) noteTrips() {
	var parts []string
	for ti, t := range r.sc.tools {
		ss := slices.Clone(r.samples[ti])
		if t.server == nil || t.server() == nil || t.server().link == nil || len(ss) == 0 {
			continue
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].wall < ss[j].wall })
		m := ss[len(ss)/2]
		parts = append(parts, fmt.Sprintf("%s %d round trips on %d connections, %s", t.name, m.trips, m.conns, humanBytes(m.bytes)))
	}
	if len(parts) > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%s: on the link, the median run: %s.", r.sc.name, strings.Join(parts, "; ")))
	}
}

// compareChecksums checks that every checksum-producing tool printed the
// same commit on every run. A mismatch is loud but not fatal: the timings
// are still worth seeing, and the message points at the correctness bug.
func (r *result) compareChecksums() {
	var names, sums []string
	for ti, t := range r.sc.tools {
		if !t.checksum || len(r.samples[ti]) == 0 {
			continue
		}
		seen := map[string]bool{}
		for _, s := range r.samples[ti] {
			seen[lastLine(s.stdout)] = true
		}
		if len(seen) > 1 {
			r.notes = append(r.notes, fmt.Sprintf("**%s: %s printed different checksums across runs**", r.sc.name, t.name))
			logf("WARNING: %s: %s printed different checksums across runs", r.sc.name, t.name)
		}
		names = append(names, t.name)
		sums = append(sums, lastLine(r.samples[ti][len(r.samples[ti])-1].stdout))
	}
	if len(sums) < 2 {
		return
	}
	match := true
	for _, s := range sums[1:] {
		if s != sums[0] || s == "" {
			match = false
		}
	}
	if match {
		r.notes = append(r.notes, fmt.Sprintf("%s: checksums match: yes (%s)", r.sc.name, sums[0]))
		return
	}
	var parts []string
	for i := range names {
		parts = append(parts, fmt.Sprintf("%s=%q", names[i], sums[i]))
	}
	msg := fmt.Sprintf("%s: checksums match: NO (%s)", r.sc.name, strings.Join(parts, " "))
	r.notes = append(r.notes, "**"+msg+"**")
	logf("WARNING: %s", msg)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// median and min over one tool's runs.
func stats(ss []sample, f func(sample) time.Duration) (med, min time.Duration) {
	v := make([]time.Duration, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		med = v[n/2]
	} else {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0]
}

func wallOf(s sample) time.Duration { return s.wall }
func cpuOf(s sample) time.Duration  { return s.cpu }

// treeStats reads every regular file once: this warms the page cache so the
// first timed run is not penalised, and yields the size shown in the header.
type treeStats struct{ files, dirs, symlinks, other, bytes int64 }

func warmTree(root string) (treeStats, error) {
	var st treeStats
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			st.dirs++
		case d.Type()&fs.ModeSymlink != 0:
			st.symlinks++
		case d.Type().IsRegular():
			st.files++
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			n, err := io.CopyBuffer(io.Discard, f, buf)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			st.bytes += n
		default:
			st.other++
		}
		return nil
	})
	return st, err
}

// ostreeVersion returns the Version line of `ostree --version`.
func ostreeVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(l, "Version:"); ok {
			return strings.Trim(strings.TrimSpace(v), "'")
		}
	}
	return "unknown"
}

func kernel() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// report renders the header, the ratio table (one row per scenario and
// target), a per-tool detail table with min and CPU figures, and notes.
func report(e *env, st treeStats, runs int, results []*result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# arbor benchmark\n\n")
	fmt.Fprintf(&b, "date: %s, kernel: %s, nproc: %d, ostree: %s, tree: %s (%d files, %d bytes = %s; %d dirs, %d symlinks), runs: %d (median wall clock, interleaved)\n\n",
		time.Now().Format("2006-01-02 15:04:05 MST"), kernel(), runtime.NumCPU(), ostreeVersion(e.ostree),
		e.tree, st.files, st.bytes, humanBytes(st.bytes), st.dirs, st.symlinks, runs)

	b.WriteString("| scenario | arbor (s) | peer (s) | ratio arbor/peer | target | met? |\n")
	b.WriteString("|---|---:|---:|---:|---|---|\n")
	var notes []string
	for _, r := range results {
		for _, tg := range r.sc.targets {
			peer := r.sc.tools[tg.peer].name
			label := r.sc.name
			if tg.tool != 0 {
				label += ", " + r.sc.tools[tg.tool].name
			}
			if len(r.sc.targets) > 1 {
				label += " vs " + peer
			}
			if tg.onBytes {
				label = r.sc.name + " (bytes)"
			}
			goal := fmt.Sprintf("≤ %.2fx %s", tg.max, peer)
			if tg.abs > 0 {
				goal = fmt.Sprintf("≤ %v", tg.abs)
			}
			if tg.absBytes > 0 {
				label = r.sc.name + " (memory)"
				goal = fmt.Sprintf("≤ %d MB", tg.absBytes/1e6)
			}
			if r.err != nil {
				fmt.Fprintf(&b, "| %s | – | – | – | %s | FAILED |\n", label, goal)
				continue
			}
			a, _ := stats(r.samples[tg.tool], wallOf)
			p, _ := stats(r.samples[tg.peer], wallOf)
			av, pv, unit := a.Seconds(), p.Seconds(), "%.3f"
			if a < 100*time.Millisecond || p < 100*time.Millisecond {
				unit = "%.4f" // latencies of milliseconds
			}
			if tg.onBytes {
				av, pv, unit = float64(medianBytes(r.samples[tg.tool]))/(1<<20), float64(medianBytes(r.samples[tg.peer]))/(1<<20), "%.1f MiB"
			}
			if tg.absBytes > 0 {
				av, pv, unit = float64(medianBytes(r.samples[tg.tool]))/1e6, float64(medianBytes(r.samples[tg.peer]))/1e6, "%.1f MB"
			}
			ratio := av / pv
			met := "no"
			switch {
			case tg.absBytes > 0:
				if medianBytes(r.samples[tg.tool]) <= tg.absBytes {
					met = "yes"
				}
			case tg.abs > 0 && a <= tg.abs || tg.abs == 0 && ratio <= tg.max:
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | "+unit+" | "+unit+" (%s) | %.2fx | %s | %s |\n", label, av, pv, peer, ratio, goal, met)
		}
		notes = append(notes, r.notes...)
		if r.err != nil {
			notes = append(notes, fmt.Sprintf("**%s: FAILED:** `%s`", r.sc.name, strings.ReplaceAll(r.err.Error(), "\n", " ⏎ ")))
		}
	}

	b.WriteString("\n| scenario | tool | wall median (s) | wall min (s) | cpu median (s) | cpu min (s) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|\n")
	for _, r := range results {
		for ti, t := range r.sc.tools {
			if len(r.samples[ti]) == 0 {
				continue
			}
			wm, wn := stats(r.samples[ti], wallOf)
			cm, cn := stats(r.samples[ti], cpuOf)
			fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %.3f | %.3f |\n", r.sc.name, t.name, wm.Seconds(), wn.Seconds(), cm.Seconds(), cn.Seconds())
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		said := map[string]bool{} // scenarios may share a note
		for _, n := range notes {
			if said[n] {
				continue
			}
			said[n] = true
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == peakWrapArg {
		os.Exit(peakWrap(os.Args[2:]))
	}
	if err := mainErr(); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}

func mainErr() error {
	arborFlag := flag.String("arbor", "", "arbor binary to measure (required)")
	ostreeFlag := flag.String("ostree", "/usr/bin/ostree", "peer ostree binary")
	treeFlag := flag.String("tree", "/usr/share", "directory tree to commit and check out")
	runs := flag.Int("runs", 3, "timed runs per tool; the median is reported")
	workFlag := flag.String("work", "", "parent of the scratch directory (default: system temp dir); repos and checkouts share it so hardlinks work")
	outFlag := flag.String("out", "", "also write the markdown report to this file")
	onlyFlag := flag.String("only", "", "comma-separated scenarios to run (default all)")
	timeout := flag.Duration("timeout", 30*time.Minute, "per-command timeout (0 = none)")
	keep := flag.Bool("keep", false, "keep the scratch directory and every scenario's files")
	traceFlag := flag.String("trace", "", "write each timed run's requests, with their times, to files in this directory")
	fresh := flag.Bool("fresh-fs", os.Geteuid() == 0, "put each repo on a newly made ext4 filesystem (needs root)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	if *arborFlag == "" {
		return errors.New("-arbor=PATH is required")
	}
	if *runs < 1 {
		return errors.New("-runs must be >= 1")
	}

	scs := allScenarios()
	if *onlyFlag != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(*onlyFlag, ",") {
			if n = strings.TrimSpace(n); n != "" {
				want[n] = true
			}
		}
		var names []string
		var sel []*scenario
		for _, sc := range scs {
			names = append(names, sc.name)
			if want[sc.name] {
				sel = append(sel, sc)
				delete(want, sc.name)
			}
		}
		if len(want) > 0 {
			var bad []string
			for n := range want {
				bad = append(bad, n)
			}
			sort.Strings(bad)
			return fmt.Errorf("unknown scenario(s) %s; known: %s", strings.Join(bad, ","), strings.Join(names, ","))
		}
		scs = sel
	}

	// Resolve binaries up front so a typo fails before minutes of setup,
	// and make paths absolute since they are used from several directories.
	arbor, err := exec.LookPath(*arborFlag)
	if err != nil {
		return fmt.Errorf("-arbor: %w", err)
	}
	ostree, err := exec.LookPath(*ostreeFlag)
	if err != nil {
		return fmt.Errorf("-ostree: %w", err)
	}
	if _, err := exec.LookPath("cp"); err != nil {
		return err
	}
	e := &env{timeout: *timeout, freshFS: *fresh, trace: *traceFlag, keep: *keep}
	for _, p := range []struct {
		dst *string
		src string
	}{{&e.arbor, arbor}, {&e.ostree, ostree}, {&e.tree, *treeFlag}} {
		if *p.dst, err = filepath.Abs(p.src); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(e.tree); err != nil || !fi.IsDir() {
		return fmt.Errorf("-tree %s: not a directory (%v)", e.tree, err)
	}
	if *workFlag != "" {
		if err := os.MkdirAll(*workFlag, 0o755); err != nil {
			return err
		}
	}
	if e.work, err = os.MkdirTemp(*workFlag, "arbor-bench-"); err != nil {
		return err
	}
	if *keep {
		logf("scratch directory kept: %s", e.work)
	} else {
		defer removeAll(e.work)
	}

	logf("warming page cache: reading %s", e.tree)
	st, err := warmTree(e.tree)
	if err != nil {
		return fmt.Errorf("reading tree: %w", err)
	}
	e.treeBytes = st.bytes
	logf("tree: %d files, %s, %d dirs, %d symlinks", st.files, humanBytes(st.bytes), st.dirs, st.symlinks)
	if st.other > 0 {
		logf("warning: tree has %d special files (devices, fifos, sockets); commits may fail", st.other)
	}

	defer func() {
		for i := len(e.atExit) - 1; i >= 0; i-- {
			e.atExit[i]()
		}
	}()
	var results []*result
	failed := false
	for _, sc := range scs {
		r := runScenario(e, sc, *runs)
		failed = failed || r.err != nil
		results = append(results, r)
	}

	md := report(e, st, *runs, results)
	fmt.Print(md)
	if *outFlag != "" {
		if err := os.WriteFile(*outFlag, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if failed {
		return errors.New("one or more scenarios failed (see above)")
	}
	return nil
}

func medianBytes(ss []sample) int64 {
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = s.bytes
	}
	slices.Sort(v)
	return v[len(v)/2]
}
