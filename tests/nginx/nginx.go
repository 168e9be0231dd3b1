// Package nginx starts a real nginx serving a directory of static files on
// a loopback port, for the tests and the benchmark: repositories are
// static files, and this is how users publish them.
package nginx

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a running nginx; its access log holds, a line per response,
// the body bytes, the status, when it ended and how long it took, the
// connection and the path.
type Server struct {
	URL string // base URL, ending in '/'
	dir string
	cmd *exec.Cmd
}

// Start serves root from a configuration, pid file and logs kept in dir.
func Start(dir, root string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
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
	log_format bytes '$body_bytes_sent $status $msec $request_time $connection $uri';
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
`, user, dir, port, abs)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	bin := "/usr/sbin/nginx"
	if _, err := os.Stat(bin); err != nil {
		bin = "nginx"
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), dir: dir, cmd: exec.Command(bin, "-c", cf, "-p", dir)}
	s.cmd.Stderr = os.Stderr
	// Its own process group, so Stop ends the workers with the master.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	return nil, fmt.Errorf("nginx did not start on port %d:\n%s", port, log)
}

// ResetLog empties the access log; nginx appends, so it goes on from 0.
func (s *Server) ResetLog() error {
	if err := os.Truncate(filepath.Join(s.dir, "access.log"), 0); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// BytesSent sums the body bytes logged since the last reset. nginx logs a
// response when it ends, so the sum is complete once the client is done.
func (s *Server) BytesSent() (int64, error) {
	f, err := os.Open(filepath.Join(s.dir, "access.log"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			total += v
		}
	}
	return total, sc.Err()
}

// Request is one logged response.
type Request struct {
	Path   string
	Status int
	Bytes  int64
	End    time.Time     // when nginx sent its last byte
	Took   time.Duration // from the request's first byte
	Conn   int64         // nginx's connection number
}

// Requests lists the responses logged since the last reset, in order.
func (s *Server) Requests() ([]Request, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "access.log"))
	if err != nil {
		return nil, err
	}
	var out []Request
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		code, _ := strconv.Atoi(f[1])
		end, _ := strconv.ParseFloat(f[2], 64)
		took, _ := strconv.ParseFloat(f[3], 64)
		conn, _ := strconv.ParseInt(f[4], 10, 64)
		out = append(out, Request{Path: f[5], Status: code, Bytes: n,
			End:  time.UnixMilli(int64(end * 1000)),
			Took: time.Duration(took * float64(time.Second)), Conn: conn})
	}
	return out, nil
}

// Stop ends nginx, workers included; stopping twice is harmless.
func (s *Server) Stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd.Wait()
}
