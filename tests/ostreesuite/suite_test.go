// Package ostreesuite runs ostree's own installed tests (Debian's
// ostree-tests) with arbor as `ostree`: the measure of arbor as a drop-in.
// pass.txt lists the tests that pass; it only grows, and a test on it that
// fails fails the run. ARBOR_OSTREE_SUITE=all runs every test and reports
// which pass that the list lacks, ARBOR_OSTREE_SUITE=test-a.sh,test-b.sh
// runs those; ARBOR_OSTREE_SUITE_PEER=1 runs them with
// the real ostree instead, for a baseline.
package ostreesuite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/tests/testutil"
)

const (
	testsDir = "/usr/share/installed-tests/libostree"
	// The real binary keeps one job: trivial-httpd, the suite's own web
	// server, which arbor has no reason to carry.
	realOstree  = "/usr/bin/ostree"
	testTimeout = 5 * time.Minute
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

// readList reads pass.txt: one test name per line, # comments.
func readList(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("pass.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		list[line] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return list
}

// suiteTests maps each installed test's name (test-basic.sh) to its Exec
// line's command.
func suiteTests(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testsDir, "*.test"))
	if err != nil || len(files) == 0 {
		if os.Getenv(testutil.PrivilegedEnv) != "" {
			t.Fatalf("ostree's installed tests are not in %s (tests/deps.sh installs ostree-tests)", testsDir)
		}
		t.Skipf("ostree's installed tests are not in %s", testsDir)
	}
	tests := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if exe, ok := strings.CutPrefix(line, "Exec="); ok {
				tests[strings.TrimSuffix(filepath.Base(f), ".test")] = strings.Fields(exe)
			}
		}
	}
	return tests
}

// shim makes a directory whose `ostree` is arbor, but for trivial-httpd.
func shim(t *testing.T, arbor string) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/bash\nif [ \"$1\" = trivial-httpd ]; then exec %s \"$@\"; fi\nexec -a ostree %s \"$@\"\n", realOstree, arbor)
	if err := os.WriteFile(filepath.Join(dir, "ostree"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type result struct {
	name   string
	ok     bool
	skip   bool // the test found nothing to run here (exit 77, or a plan of 0)
	output string
	took   time.Duration
}

func TestOstreeSuite(t *testing.T) {
	testutil.NeedRoot(t)
	testutil.NeedTool(t, realOstree)
	list := readList(t)
	tests := suiteTests(t)
	for name := range list {
		if _, ok := tests[name]; !ok {
			t.Errorf("%s is on pass.txt but not installed in %s", name, testsDir)
		}
	}
	sel := os.Getenv("ARBOR_OSTREE_SUITE")
	all := sel == "all"
	only := map[string]bool{} // a comma-separated list runs those alone
	if !all && sel != "" {
		for _, n := range strings.Split(sel, ",") {
			only[n] = true
		}
	}
	peer := os.Getenv("ARBOR_OSTREE_SUITE_PEER") != ""
	path := os.Getenv("PATH")
	if !peer {
		path = shim(t, testutil.BuildArbor(t)) + ":" + path
	}
	var names []string
	for name := range tests {
		if len(only) > 0 {
			if only[name] {
				names = append(names, name)
			}
		} else if all || peer || list[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)

	jobs := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				results <- runOne(t, name, tests[name], path)
			}
		}()
	}
	go func() {
		for _, n := range names {
			jobs <- n
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	var passed, extra, skips []string
	for r := range results {
		switch {
		case r.skip:
			skips = append(skips, r.name)
			if list[r.name] {
				t.Errorf("%s is on pass.txt and skipped itself:\n%s", r.name, tail(r.output, 20))
			}
		case r.ok:
			passed = append(passed, r.name)
			if !list[r.name] {
				extra = append(extra, r.name)
			}
		case list[r.name] && !peer:
			t.Errorf("%s is on pass.txt and failed (%s):\n%s", r.name, r.took.Round(time.Second), tail(r.output, 60))
		default:
			t.Logf("%s fails (%s):\n%s", r.name, r.took.Round(time.Second), tail(r.output, 25))
		}
	}
	sort.Strings(passed)
	sort.Strings(extra)
	who := "arbor"
	if peer {
		who = "ostree"
	}
	t.Logf("%s passes %d of %d tests run (%d skipped themselves: %s)", who, len(passed), len(names), len(skips), strings.Join(skips, " "))
	if len(extra) > 0 {
		t.Logf("passing but not on pass.txt:\n%s", strings.Join(extra, "\n"))
	}
}

// runOne runs one test in an empty directory of its own, as ostree's
// runner does.
func runOne(t *testing.T, name string, argv []string, path string) result {
	dir, err := os.MkdirTemp("", "ostree-suite-")
	if err != nil {
		return result{name: name, output: err.Error()}
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	start := time.Now()
	// argv is `env VAR=... /path/test`: env sets the test's variables.
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+path, "LANG=C.UTF-8")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	r := result{name: name, output: string(out), took: time.Since(start)}
	switch {
	case skipped(err, r.output):
		r.skip = true
	case err == nil && !strings.Contains(r.output, "\nnot ok ") && !strings.HasPrefix(r.output, "not ok "):
		r.ok = true
	case ctx.Err() != nil:
		r.output += "\n(timed out after " + testTimeout.String() + ")"
	}
	return r
}

func skipped(err error, out string) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 {
		return true
	}
	return err == nil && strings.Contains(out, "1..0")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
