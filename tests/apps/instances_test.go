package apps

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arbor/tests/testutil"
)

// A running app has an instance directory as flatpak keeps one, its
// number in its /.flatpak-info; `arbor ps` lists it and `arbor kill`
// ends it, the whole sandbox with it.
func TestInstancesPsKill(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	p := publishApps(t, arbor, dir, nil)
	inst := newInstallation(t, arbor, dir, "inst", p.srv.URL)
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Hello")
	runtimeDir := filepath.Join(dir, "xdg-run")
	testutil.Must(t, os.MkdirAll(runtimeDir, 0o700))
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir)
	arborCmd := func(args ...string) (string, error) {
		cmd := exec.Command(arbor, append([]string{"--repo=" + inst}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// The runtime has only sh: its builtins read the instance's number
	// and then wait on stdin.
	run := exec.Command(arbor, "--repo="+inst, "run", "--command=sh", "org.example.Hello", "-c",
		`while read -r l; do case $l in instance-id=*) echo "$l";; esac; done < /.flatpak-info; read x`)
	run.Env = env
	stdin, err := run.StdinPipe()
	testutil.Must(t, err)
	defer stdin.Close()
	stdout, err := run.StdoutPipe()
	testutil.Must(t, err)
	testutil.Must(t, run.Start())
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the app printed no instance id: %v", err)
	}
	id := strings.TrimPrefix(strings.TrimSpace(line), "instance-id=")
	if _, err := strconv.ParseUint(id, 10, 32); err != nil {
		t.Fatalf("instance id %q", line)
	}

	idir := filepath.Join(runtimeDir, ".flatpak", id)
	if info := testutil.ReadFile(t, filepath.Join(idir, "info")); !strings.Contains(info, "instance-id="+id) || !strings.Contains(info, "name=org.example.Hello") {
		t.Errorf("the instance's info:\n%s", info)
	}
	var bw struct {
		Child int `json:"child-pid"`
	}
	testutil.Must(t, json.Unmarshal([]byte(testutil.ReadFile(t, filepath.Join(idir, "bwrapinfo.json"))), &bw))
	if _, err := os.Stat("/proc/" + strconv.Itoa(bw.Child)); bw.Child <= 0 || err != nil {
		t.Fatalf("bwrapinfo.json child-pid %d: %v", bw.Child, err)
	}
	out, err := arborCmd("ps", "--json")
	if err != nil {
		t.Fatalf("ps: %v\n%s", err, out)
	}
	var ps []struct {
		Instance string `json:"instance"`
		PID      int    `json:"pid"`
		Child    int    `json:"child_pid"`
		Ref      string `json:"ref"`
		Cgroup   string `json:"cgroup"`
		Usage    *struct {
			Processes int `json:"processes"`
		} `json:"usage"`
	}
	testutil.Must(t, json.Unmarshal([]byte(out), &ps))
	if len(ps) != 1 || ps[0].Instance != id || ps[0].PID != run.Process.Pid || ps[0].Child != bw.Child || ps[0].Ref != "app/org.example.Hello/x86_64/1.0" {
		t.Fatalf("ps: %+v (instance %s, pid %d, child %d)", ps, id, run.Process.Pid, bw.Child)
	}
	// Its own cgroup, where the host has a cgroup v2 hierarchy: the app's
	// processes are in it, and ps counts them.
	cg := ""
	if testutil.HasCgroup2() {
		if ps[0].Cgroup == "" || !strings.HasSuffix(ps[0].Cgroup, "/app-arbor-org.example.Hello-"+id) || ps[0].Usage == nil || ps[0].Usage.Processes < 2 {
			t.Fatalf("ps: cgroup %q, usage %+v", ps[0].Cgroup, ps[0].Usage)
		}
		cg = ps[0].Cgroup
		if own := testutil.ReadFile(t, "/proc/"+strconv.Itoa(bw.Child)+"/cgroup"); !strings.Contains(own, "/app-arbor-org.example.Hello-"+id+"\n") {
			t.Errorf("the sandbox's cgroups:\n%s", own)
		}
	}
	if out, _ := arborCmd("ps"); !strings.HasPrefix(out, id+"\t"+strconv.Itoa(run.Process.Pid)+"\torg.example.Hello\torg.example.Platform/x86_64/1.0\t") {
		t.Errorf("ps:\n%s", out)
	}

	// enter: in the sandbox's namespaces (its pids, its /app), with its
	// command's environment, and no more rights than the app has.
	out, err = arborCmd("enter", id, "sh", "-c", `echo "pid=$$ container=$container"; while read -r l; do case $l in instance-id=*) echo "$l";; esac; done < /.flatpak-info;`+
		`while read -r l; do case $l in NoNewPrivs*|Seccomp:*|CapEff*) echo "$l";; esac; done < /proc/self/status; [ -x /app/bin/hello ] && echo "app here"; exit 7`)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("enter: %v (want exit status 7)\n%s", err, out)
	}
	for _, want := range []string{"container=arbor", "instance-id=" + id, "NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000", "app here"} {
		if !strings.Contains(out, want) {
			t.Errorf("enter: lacks %q:\n%s", want, out)
		}
	}
	if pid, _ := strconv.Atoi(strings.TrimPrefix(strings.Fields(out)[0], "pid=")); pid <= 0 || pid > 10 {
		t.Errorf("enter: pid %d is not one of the sandbox's\n%s", pid, out)
	}

	if out, err := arborCmd("kill", "org.example.Hello"); err != nil || !strings.Contains(out, "killed "+id) {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("the run after kill: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end within 10 s of kill")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(bw.Child)); err == nil {
		t.Errorf("the sandbox's first process %d outlived kill", bw.Child)
	}
	if _, err := os.Stat(idir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the instance directory is left: %v", err)
	}
	if cg != "" {
		// Removed by its runner, or, if its last process was still going,
		// by the next run's.
		testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello")
		if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the instance's cgroup is left: %v", err)
		}
	}
	if out, err := arborCmd("kill", id); err == nil || !strings.Contains(out, "no running instance") {
		t.Errorf("kill of an ended instance: %v\n%s", err, out)
	}
}

// `arbor limit` bounds a running instance's memory, CPU and processes
// in its cgroup (or, where the unified hierarchy lacks those
// controllers, on their v1 hierarchies), as the center does through its
// daemon's API; ps shows the limits, and the kernel holds the app to
// them: with its processes bounded, its next fork fails.
func TestInstanceLimits(t *testing.T) {
	testutil.Privileged(t)
	if !testutil.HasCgroup2() {
		t.Skip("no cgroup v2 hierarchy: instances have no cgroup of their own")
	}
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	p := publishApps(t, arbor, dir, nil)
	inst := newInstallation(t, arbor, dir, "inst", p.srv.URL)
	runtimeDir := filepath.Join(dir, "xdg-run")
	testutil.Must(t, os.MkdirAll(runtimeDir, 0o700))
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir)
	arborCmd := func(args ...string) (string, error) {
		cmd := exec.Command(arbor, append([]string{"--repo=" + inst}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The daemon the install starts serves the center: it sees this
	// user's runtime directory, where instances are.
	if out, err := arborCmd("install", "-y", "origin", "org.example.Hello"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	// It prints its number, then forks a subshell at a time until a fork
	// fails (dash then says it cannot fork, and exits).
	run := exec.Command(arbor, "--repo="+inst, "run", "--command=sh", "org.example.Hello", "-c",
		`while read -r l; do case $l in instance-id=*) echo "$l";; esac; done < /.flatpak-info; while (exit 0); do :; done`)
	run.Env = env
	var stderr strings.Builder
	run.Stderr = &stderr
	stdout, err := run.StdoutPipe()
	testutil.Must(t, err)
	testutil.Must(t, run.Start())
	defer run.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the app printed no instance id: %v", err)
	}
	id := strings.TrimPrefix(strings.TrimSpace(line), "instance-id=")

	for _, bad := range [][]string{{"limit", id}, {"limit", id, "--memory=lots"}, {"limit", id, "--cpu=-5"}, {"limit", "org.example.None", "--pids=5"}} {
		if out, err := arborCmd(bad...); err == nil {
			t.Errorf("%v: accepted\n%s", bad, out)
		}
	}
	out, err := arborCmd("limit", id, "--memory=64M", "--cpu=50", "--json")
	if err != nil {
		t.Fatalf("limit: %v\n%s", err, out)
	}
	type limits struct {
		Memory int64 `json:"memory_bytes"`
		CPU    int   `json:"cpu_percent"`
		Pids   int   `json:"processes"`
	}
	var ps []struct {
		Instance string `json:"instance"`
		Usage    struct {
			Limits limits `json:"limits"`
		} `json:"usage"`
	}
	out, err = arborCmd("ps", "--json")
	testutil.Must(t, err)
	testutil.Must(t, json.Unmarshal([]byte(out), &ps))
	if len(ps) != 1 || ps[0].Instance != id || ps[0].Usage.Limits != (limits{Memory: 64 << 20, CPU: 50}) {
		t.Fatalf("ps after limit: %s", out)
	}
	// The center limits it too, through its daemon's API.
	u, err := arborCmd("center", "--url")
	if err != nil {
		t.Fatalf("center --url: %v\n%s", err, u)
	}
	center, err := url.Parse(strings.TrimSpace(u))
	testutil.Must(t, err)
	post := func(instance, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, "http://"+center.Host+"/api/running/"+instance+"/limit", strings.NewReader(body))
		testutil.Must(t, err)
		req.Header.Set("Authorization", "Bearer "+center.Query().Get("key"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		testutil.Must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("4", `{"processes":1}`); code < 400 || !strings.Contains(body, "no running instance") {
		t.Errorf("the center limited an instance that is not running: %d %s", code, body)
	}
	if code, body := post(id, `{"processes":100}`); code != http.StatusOK || !strings.Contains(body, `"limits":{"memory_bytes":67108864,"cpu_percent":50,"processes":100}`) {
		t.Fatalf("the center's limit: %d %s", code, body)
	}
	// Bounded to the processes it has, it cannot fork.
	if out, err := arborCmd("limit", "org.example.Hello", "--pids=1"); err != nil || !strings.Contains(out, "limited "+id+" (org.example.Hello): memory 64.0 MiB, CPU 50% of a core, 1 processes") {
		t.Fatalf("limit --pids: %v\n%s", err, out)
	}
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(stderr.String(), "fork") {
			t.Errorf("the app ended with %v, saying:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the app forked on for 20 s with its processes bounded")
	}
}
