// Package history keeps an installation's log of what was done to it:
// installs, updates, removals, remotes added, OS deployments. It is JSON
// lines, one entry a line, newest last, so that a crash loses at most the
// line being written and a reader skips what it cannot parse.
//
// It is the one file in arbor that is appended to instead of replaced
// through store/atomic: rewriting the whole log for each entry would cost
// O(entries) per operation and, with two writers, lose one's entry. One
// write(2) of a whole line to a file opened with O_APPEND lands after
// everything written before it and is not interleaved with another
// writer's; the line is kept under PIPE_BUF so that this holds even where
// the file is a pipe or a FIFO. fsync makes each entry durable before the
// operation it records is reported done.
//
// Text in an entry comes from repositories (ref names, error messages
// naming paths in a tree): control characters are kept as data (JSON
// escapes them in the file), and whoever prints an entry on a terminal
// escapes them there.
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"arbor/store/atomic"
)

// Entry is one operation.
type Entry struct {
	Time   time.Time `json:"time"`
	Op     string    `json:"op"`               // install, update, download, uninstall, remote-add, os-deploy, os-rollback, os-pin, os-unpin, ...
	Ref    string    `json:"ref,omitempty"`    // flatpak ref, or the OS refspec
	Remote string    `json:"remote,omitempty"` // the remote it came from (or the OS stateroot's origin)
	From   string    `json:"from,omitempty"`   // commit before (empty: none)
	To     string    `json:"to,omitempty"`     // commit after (empty: none)
	Error  string    `json:"error,omitempty"`  // set when it failed
}

// MaxLine is the longest line Append writes, newline included: PIPE_BUF
// on Linux, the size up to which the kernel promises a write is not
// interleaved with another.
const MaxLine = 4096

// Log is the history file at Path.
type Log struct{ Path string }

// Open is the log at path; nothing is read or made until it is used.
func Open(path string) *Log { return &Log{Path: path} }

// Append writes e as one line and flushes it to disk. A zero Time is
// now. An entry too long for one line has its Error, then its Ref,
// shortened (marked with "..."), so that it still lands whole.
func (l *Log) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	line, err := encode(e)
	if err != nil {
		return fmt.Errorf("history %s: %w", l.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o755); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, statErr := os.Stat(l.Path)
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	if torn(f) {
		// A writer died mid-line: end that line, so that this entry is not
		// glued to its garbage and skipped with it.
		line = append([]byte{'\n'}, line...)
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("history %s: %w", l.Path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("history %s: %w", l.Path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new file: its name is durable once the directory is.
		if err := atomic.SyncDir(filepath.Dir(l.Path)); err != nil {
			return fmt.Errorf("history %s: %w", l.Path, err)
		}
	}
	return f.Close()
}

// torn reports whether the file does not end in a newline.
func torn(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	// O_APPEND does not stop a positioned read through another handle.
	r, err := os.Open(f.Name())
	if err != nil {
		return false
	}
	defer r.Close()
	var b [1]byte
	if _, err := r.ReadAt(b[:], fi.Size()-1); err != nil {
		return false
	}
	return b[0] != '\n'
}

// encode is e as one line of at most MaxLine bytes.
func encode(e Entry) ([]byte, error) {
	for {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		if len(b)+1 <= MaxLine {
			return append(b, '\n'), nil
		}
		over := len(b) + 1 - MaxLine
		switch {
		case len(e.Error) > 0:
			e.Error = shorten(e.Error, over)
		case len(e.Ref) > 0:
			e.Ref = shorten(e.Ref, over)
		case len(e.Remote) > 0:
			e.Remote = shorten(e.Remote, over)
		default:
			return nil, fmt.Errorf("an entry of %d bytes does not fit in a line", len(b))
		}
	}
}

// shorten cuts at least over bytes of JSON off s (an escaped byte takes
// up to six), keeping whole runes, and marks the cut.
func shorten(s string, over int) string {
	n := len(s) - over - 3
	if n < 0 {
		n = 0
	}
	for n > 0 && !runeStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func runeStart(b byte) bool { return b&0xc0 != 0x80 }

// chunk is how much of the file Read takes at a time, from the end.
const chunk = 64 << 10

// Read returns up to max entries (max <= 0: all), newest first. A line
// that does not parse (a torn last line, garbage) is skipped. A missing
// file is an empty history.
func (l *Log) Read(ctx context.Context, max int) ([]Entry, error) {
	f, err := os.Open(l.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out := []Entry{}
	// Backwards from the end, so that the newest entries cost the same
	// however long the history has grown.
	end := fi.Size()
	var rest []byte // the start of a line whose beginning is further back
	first := true   // the last line of the file: torn unless it ends in '\n'
	for end > 0 || len(rest) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := max64(0, end-chunk)
		buf := make([]byte, end-start, int(end-start)+len(rest))
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return nil, fmt.Errorf("history %s: %w", l.Path, err)
		}
		buf = append(buf, rest...)
		end = start
		lines := bytes.Split(buf, []byte{'\n'})
		if start > 0 {
			// The first piece may be the end of a line that starts before.
			rest, lines = lines[0], lines[1:]
		} else {
			rest = nil
		}
		for i := len(lines) - 1; i >= 0; i-- {
			line := lines[i]
			if first {
				first = false
				if len(line) > 0 {
					continue // no newline after it: torn
				}
			}
			var e Entry
			if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &e) != nil || e.Op == "" {
				continue
			}
			out = append(out, e)
			if max > 0 && len(out) == max {
				return out, nil
			}
		}
		if start == 0 {
			break
		}
		if len(rest) > MaxLine*4 {
			rest = nil // no line is this long: garbage without newlines
		}
	}
	return out, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
