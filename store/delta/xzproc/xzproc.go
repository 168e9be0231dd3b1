// Package xzproc decodes a delta part's xz stream in a process of its
// own while the part is still downloading, so that decoding, the longest
// step after the part arrives, overlaps the download.
//
// The bytes it decodes are not yet verified, so the process is locked
// down before it reads any (Serve): it may read its input, write its
// output, allocate memory and run its own threads, and nothing else; no
// file, socket, process or signal outside itself is within its reach,
// so a stream made to exploit the decoder gains nothing. What it writes
// is held in memory, and used only once the part's checksum matches the
// verified superblock's: it is then what decoding the verified part
// gives, and is decoded again in the calling process on any failure.
package xzproc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Name is the helper's file name, beside the binary that starts it.
const Name = "arbor-unxz"

// Beside is the helper beside the running binary, or "" when there is
// none that may be run: a regular executable file, not a symlink, no
// other user can replace (not writable by group or others, owned by
// root or this user).
func Beside() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), Name)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 || fi.Mode().Perm()&0o022 != 0 {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || (st.Uid != 0 && int(st.Uid) != os.Getuid()) {
		return ""
	}
	return p
}

// MemLimit is liblzma's memory limit for decoding a stream that may make
// at most n bytes, in arbor and in the helper alike: the window a stream
// may ask for is bounded by what it may make, or by xz's largest preset
// window, with room for the decoder's own state.
func MemLimit(n uint64) uint64 { return max(min(n, 1<<40), 64<<20) + 8<<20 }

// Decoder is one helper process decoding one xz stream.
type Decoder struct {
	cmd    *exec.Cmd
	in     *os.File
	out    *os.File
	stderr bytes.Buffer
	begun  bool
	killed atomic.Bool
	done   chan struct{} // the output is read to its end, or failed
	res    []byte
	err    error
	once   sync.Once
}

// stall bounds how long the helper may leave its input unread, or take
// to end once it is all in: far more than it needs (it decodes faster
// than a link delivers, and a pipe's worth in well under a second).
// Past it the helper is stopped and the part decoded once verified.
const stall = 30 * time.Second

// Start starts the helper at path. It reads nothing until Begin; the
// end of ctx kills it.
func Start(ctx context.Context, path string) (*Decoder, error) {
	d := &Decoder{cmd: exec.CommandContext(ctx, path), done: make(chan struct{})}
	d.cmd.Env = []string{}
	d.cmd.WaitDelay = time.Second
	d.cmd.Stderr = &limited{b: &d.stderr, n: 4096}
	inR, inW, err := pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	d.cmd.Stdin, d.cmd.Stdout, d.in, d.out = inR, outW, inW, outR
	err = d.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return d, nil
}

// pipe is a pipe of 1 MiB where the system allows it: the helper's
// input and output then pass in a few large writes, not many of 64 KiB,
// each a wakeup on either side.
func pipe() (r, w *os.File, err error) {
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", Name, err)
	}
	if c, err := w.SyscallConn(); err == nil {
		c.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
	return r, w, nil
}

// Begin sends the most the stream may decode to, max bytes, and starts
// taking the output: more than max is a failure.
func (d *Decoder) Begin(max uint64) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], max)
	if _, err := d.in.Write(hdr[:]); err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	d.begun = true
	go func() {
		defer close(d.done)
		// max is the verified superblock's estimate with room to spare,
		// which may be far more than the part makes: the buffer starts
		// at a size most parts fit in, and what it keeps is trimmed.
		var buf bytes.Buffer
		buf.Grow(int(min(max, 64<<20)))
		n, err := io.Copy(&buf, io.LimitReader(d.out, int64(min(max, 1<<62))+1))
		switch {
		case err != nil:
			d.err = err
		case uint64(n) > max:
			d.err = fmt.Errorf("more than the %d bytes allowed", max)
		case buf.Cap() > buf.Len()+buf.Len()/4+1<<20:
			d.res = bytes.Clone(buf.Bytes())
		default:
			d.res = buf.Bytes()
		}
	}()
	return nil
}

// Write gives the decoder the stream's next bytes.
func (d *Decoder) Write(b []byte) (int, error) {
	d.in.SetWriteDeadline(time.Now().Add(stall))
	n, err := d.in.Write(b)
	if err != nil {
		return n, fmt.Errorf("%s: %w", Name, err)
	}
	return n, nil
}

// Finish ends the input and returns all the helper decoded, once it has
// exited: an error when it failed, or the stream did.
func (d *Decoder) Finish() ([]byte, error) {
	if !d.begun {
		d.Stop()
		return nil, errors.New(Name + ": not begun")
	}
	d.in.Close()
	select {
	case <-d.done:
	case <-time.After(stall):
		d.Stop()
	}
	d.out.Close()
	werr := d.wait()
	switch {
	case d.killed.Load():
		return nil, errors.New(Name + ": stopped")
	case d.err != nil:
		return nil, fmt.Errorf("%s: %w", Name, d.err)
	case werr != nil:
		return nil, fmt.Errorf("%s: %w: %s", Name, werr, bytes.TrimSpace(d.stderr.Bytes()))
	}
	return d.res, nil
}

// Stop kills the helper, and waits for it; nil does nothing.
func (d *Decoder) Stop() {
	if d == nil {
		return
	}
	d.killed.Store(true)
	d.cmd.Process.Kill()
	d.in.Close()
	d.wait()
	d.out.Close()
}

func (d *Decoder) wait() error {
	var err error
	d.once.Do(func() {
		err = d.cmd.Wait() // its output ends with it, and so does the reading
		if d.begun {
			<-d.done
		}
	})
	return err
}

// limited keeps the first n bytes written to it, and takes the rest
// unkept: the helper's message, not whatever it may write.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if k := min(len(p), l.n-l.b.Len()); k > 0 {
		l.b.Write(p[:k])
	}
	return len(p), nil
}
