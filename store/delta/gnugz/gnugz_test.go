package gnugz

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// inputs are what gzip's choices differ on: nothing, fewer bytes than a
// match, long runs, incompressible bytes (stored blocks), text (its
// trees and block ends), sizes about the window's halves (its slides),
// and real files of the system.
func inputs(t *testing.T) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(n int) []byte {
		words := []string{"the ", "delta ", "of ", "a ", "changelog ", "fixes ", "bug ", "in\n", "release ", "1.2.3 "}
		var b []byte
		for len(b) < n {
			b = append(b, words[rng.IntN(len(words))]...)
		}
		return b[:n]
	}
	in := map[string][]byte{
		"empty": nil, "one": []byte("a"), "two": []byte("ab"), "three": []byte("abc"),
		"run": bytes.Repeat([]byte("a"), 100000), "random": random(300000),
		"random then text":        append(random(50000), bytes.Repeat([]byte("hello world "), 20000)...),
		"text with a random tail": append(text(70000), random(300)...),
	}
	for _, n := range []int{32767, 32768, 32769, 65274, 65536, 65537, 98304 + 7} {
		in["text "+strconv.Itoa(n)] = text(n)
	}
	files, _ := filepath.Glob("/usr/share/doc/*/changelog.Debian.gz")
	for i, f := range files {
		if i >= 12 {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			continue
		}
		if txt, err := io.ReadAll(zr); err == nil {
			in[f] = txt
		}
	}
	if b, err := os.ReadFile("/bin/sh"); err == nil {
		in["/bin/sh"] = b
	}
	return in
}

// Gzip makes what GNU gzip -n makes, byte for byte, at every level it
// does; gzip itself is the oracle.
func TestSameAsGzip(t *testing.T) {
	gz, err := exec.LookPath("gzip")
	if err != nil {
		t.Fatal("gzip, the oracle, is not installed")
	}
	in := inputs(t)
	for level := 4; level <= 9; level++ {
		for name, data := range in {
			cmd := exec.Command(gz, "-n", "-c", "-"+strconv.Itoa(level))
			cmd.Stdin = bytes.NewReader(data)
			want, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Gzip(want[:10], data, level)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				k := 0
				for k < len(got) && k < len(want) && got[k] == want[k] {
					k++
				}
				t.Errorf("level %d, %s (%d bytes): %d bytes, gzip's %d, apart from byte %d", level, name, len(data), len(got), len(want), k)
			}
		}
	}
}

func TestLevels(t *testing.T) {
	for _, l := range []int{0, 1, 3, 10} {
		if _, err := Deflate([]byte("x"), l); err == nil {
			t.Errorf("level %d taken", l)
		}
	}
}
