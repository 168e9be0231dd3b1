package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pullScenario times a full pull of the tree's commit from nginx on
// loopback into a fresh bare-user repo, and counts the bytes nginx sent.
// The published repo is made by ostree, so both tools fetch the same files.
func pullScenario() *scenario {
	const name = "pull"
	var srv *nginx
	pub := func(e *env) string { return e.dir(name, "published") }
	mk := func(label string, bin func(e *env) string) tool {
		fs := func(e *env) string { return e.dir(name, label+"-fs") }
		repo := func(e *env) string { return filepath.Join(fs(e), "repo") }
		return tool{
			name: label,
			prepare: func(e *env) error {
				if err := e.mountFresh(fs(e)); err != nil {
					return err
				}
				if _, err := run(e, []string{bin(e), "--repo=" + repo(e), "init", "--mode=bare-user"}); err != nil {
					return err
				}
				if _, err := run(e, []string{bin(e), "--repo=" + repo(e), "remote", "add", "--no-gpg-verify", "origin", srv.url}); err != nil {
					return err
				}
				return srv.resetLog()
			},
			argv:  func(e *env) []string { return []string{bin(e), "--repo=" + repo(e), "pull", "origin", "bench"} },
			bytes: func(e *env) (int64, error) { return srv.bytesSent() },
			clean: func(e *env) error { return e.unmountFresh(fs(e)) },
		}
	}
	return &scenario{
		name: name,
		setup: func(e *env) error {
			if _, err := run(e, []string{e.ostree, "--repo=" + pub(e), "init", "--mode=archive"}); err != nil {
				return err
			}
			if _, err := run(e, commitArgs(e.ostree, pub(e), e.tree)); err != nil {
				return err
			}
			if _, err := run(e, []string{e.ostree, "--repo=" + pub(e), "summary", "-u"}); err != nil {
				return err
			}
			var err error
			srv, err = startNginx(e.dir(name, "nginx"), pub(e))
			return err
		},
		tools: []tool{
			mk("arbor", func(e *env) string { return e.arbor }),
			mk("ostree", func(e *env) string { return e.ostree }),
		},
		teardown: func(e *env) error {
			if srv != nil {
				srv.stop()
			}
			return nil
		},
		targets: []target{{peer: 1, max: 0.4}, {peer: 1, max: 1.0, onBytes: true}},
	}
}

// nginx is a static file server on loopback whose access log records the
// body bytes of every response.
type nginx struct {
	cmd *exec.Cmd
	dir string
	url string
}

func startNginx(dir, root string) (*nginx, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 2;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 1024; }
http {
	log_format bytes '$body_bytes_sent';
	access_log %[2]s/access.log bytes;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	sendfile on;
	keepalive_requests 1000000;
	default_type application/octet-stream;
	server { listen 127.0.0.1:%[3]d; root %[4]s; }
}
`, user, dir, port, root)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	bin := "/usr/sbin/nginx"
	if _, err := os.Stat(bin); err != nil {
		bin = "nginx"
	}
	n := &nginx{cmd: exec.Command(bin, "-c", cf, "-p", dir), dir: dir, url: fmt.Sprintf("http://127.0.0.1:%d/", port)}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return n, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.stop()
	return nil, fmt.Errorf("nginx did not start on port %d", port)
}

// resetLog empties the access log and has nginx reopen it.
func (n *nginx) resetLog() error {
	if err := os.Truncate(filepath.Join(n.dir, "access.log"), 0); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// bytesSent sums the body bytes nginx logged since the last reset. nginx
// writes each log line when the response ends, so the sum is complete once
// the client has exited.
func (n *nginx) bytesSent() (int64, error) {
	f, err := os.Open(filepath.Join(n.dir, "access.log"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
		if err == nil {
			total += v
		}
	}
	return total, sc.Err()
}

func (n *nginx) stop() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}
