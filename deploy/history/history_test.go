package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadBack(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	entry := func(i int) Entry {
		return Entry{Time: at.Add(time.Duration(i) * time.Minute), Op: "install", Ref: fmt.Sprintf("app/org.example.A%d/x86_64/stable", i), To: "c0ffee"}
	}
	for _, c := range []struct {
		name    string
		entries []Entry
		extra   string // written raw after the entries
		max     int
		want    []string // refs, newest first
	}{
		{name: "empty", want: nil},
		{name: "newest first", entries: []Entry{entry(1), entry(2), entry(3)}, want: []string{"app/org.example.A3/x86_64/stable", "app/org.example.A2/x86_64/stable", "app/org.example.A1/x86_64/stable"}},
		{name: "max", entries: []Entry{entry(1), entry(2), entry(3)}, max: 2, want: []string{"app/org.example.A3/x86_64/stable", "app/org.example.A2/x86_64/stable"}},
		{name: "torn last line", entries: []Entry{entry(1)}, extra: `{"time":"2025-03-01T12:00:00Z","op":"upd`, want: []string{"app/org.example.A1/x86_64/stable"}},
		{name: "a whole last line without its newline is torn too", entries: []Entry{entry(1)}, extra: `{"op":"update","ref":"x"}`, want: []string{"app/org.example.A1/x86_64/stable"}},
		{name: "garbage between", entries: []Entry{entry(1)}, extra: "not json\n\x00\x01\n\n{\"op\":\"\"}\n", want: []string{"app/org.example.A1/x86_64/stable"}},
		{name: "control characters are data", entries: []Entry{{Op: "install", Ref: "app/evil\x1b[2J\n/x86_64/stable", Error: "bad\r\x07"}},
			want: []string{"app/evil\x1b[2J\n/x86_64/stable"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := Open(filepath.Join(t.TempDir(), "sub", "history.jsonl"))
			for _, e := range c.entries {
				if err := l.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			if c.extra != "" {
				f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(c.extra)
				f.Close()
			}
			got, err := l.Read(context.Background(), c.max)
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, e := range got {
				refs = append(refs, e.Ref)
			}
			if fmt.Sprint(refs) != fmt.Sprint(c.want) {
				t.Fatalf("got %q, want %q", refs, c.want)
			}
			if c.name == "control characters are data" && got[0].Error != "bad\r\x07" {
				t.Errorf("error read back as %q", got[0].Error)
			}
		})
	}
}

// An append after a torn line ends that line first: the new entry is
// not lost with the garbage.
func TestAppendAfterTornLine(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "history.jsonl"))
	if err := os.WriteFile(l.Path, []byte(`{"op":"install","ref":"a"}`+"\n"+`{"op":"ins`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Entry{Op: "uninstall", Ref: "b"}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Read(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Ref != "b" || got[1].Ref != "a" {
		t.Fatalf("got %+v", got)
	}
}

// Each line stays under PIPE_BUF, its long fields shortened.
func TestLongEntryFitsOneLine(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "history.jsonl"))
	long := strings.Repeat("\x01é", 5000)
	if err := l.Append(Entry{Op: "install", Ref: strings.Repeat("r", 3000), Error: long}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxLine || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("a line of %d bytes, %d newlines", len(b), strings.Count(string(b), "\n"))
	}
	got, err := l.Read(context.Background(), 0)
	if err != nil || len(got) != 1 || !strings.HasSuffix(got[0].Error, "...") {
		t.Fatalf("read back %+v, %v", got, err)
	}
}

// Many writers at once: every entry lands whole.
func TestConcurrentAppends(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "history.jsonl"))
	var wg sync.WaitGroup
	const n = 64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Append(Entry{Op: "install", Ref: fmt.Sprintf("app/org.example.A%d/x86_64/stable", i), Error: strings.Repeat("x", 1000)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := l.Read(context.Background(), 0)
	if err != nil || len(got) != n {
		t.Fatalf("read %d entries, %v", len(got), err)
	}
}

// Reading goes back chunk by chunk across lines that straddle chunks.
func TestReadManyChunks(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "history.jsonl"))
	const n = 400 // ~400 KiB: several chunks
	for i := range n {
		if err := l.Append(Entry{Op: "update", Ref: fmt.Sprint(i), Error: strings.Repeat("e", 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Read(context.Background(), 0)
	if err != nil || len(got) != n {
		t.Fatalf("read %d, %v", len(got), err)
	}
	for i, e := range got {
		if e.Ref != fmt.Sprint(n-1-i) {
			t.Fatalf("entry %d is %s", i, e.Ref)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Read(ctx, 0); err == nil {
		t.Error("a cancelled read succeeded")
	}
}
