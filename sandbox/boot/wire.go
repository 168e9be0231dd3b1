package boot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The spec crosses from arbor to the init in a compact form of its own:
// decoding JSON by reflection took half a millisecond of every start,
// on the path an app waits on. Strings and byte strings are a uvarint
// length and the bytes, lists a uvarint count and the items, integers
// varints, flags one byte; the form is a version byte and the fields in
// declaration order. Both ends are built from this file.
const wireVersion = 1

// maxWire bounds what the init reads, against a broken writer.
const maxWire = 64 << 20

// Encode writes the spec to w.
func (s *Spec) Encode(w io.Writer) error {
	var e enc
	e.b = append(e.b, wireVersion)
	e.str(s.Runtime)
	e.str(s.App)
	e.flag(s.AppWritable)
	e.strs(s.Args)
	e.strs(s.Env)
	e.str(s.Dir)
	e.flag(s.Network)
	e.flag(s.IPC)
	e.uint(uint64(len(s.Binds)))
	for _, b := range s.Binds {
		e.str(b.Source)
		e.str(b.Dest)
		e.flag(b.Writable)
		e.flag(b.Device)
	}
	e.int(int64(s.UID))
	e.int(int64(s.GID))
	e.str(s.UserName)
	e.flag(s.Features.Devel)
	e.flag(s.Features.Multiarch)
	e.flag(s.Features.Bluetooth)
	e.flag(s.Features.Canbus)
	e.bytes(s.Seccomp)
	e.bytes(s.Info)
	e.str(s.Home)
	e.flag(s.System)
	if len(e.b) > maxWire {
		return fmt.Errorf("sandbox spec of %d bytes is too large", len(e.b))
	}
	_, err := w.Write(e.b)
	return err
}

// Decode reads a spec that Encode wrote, up to the end of r.
func (s *Spec) Decode(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, maxWire+1))
	if err != nil {
		return err
	}
	if len(b) > maxWire {
		return errors.New("sandbox spec too large")
	}
	d := dec{b: b}
	if v := d.byte(); v != wireVersion {
		return fmt.Errorf("sandbox spec version %d, not %d: arbor and its sandbox init differ", v, wireVersion)
	}
	*s = Spec{}
	s.Runtime = d.str()
	s.App = d.str()
	s.AppWritable = d.flag()
	s.Args = d.strs()
	s.Env = d.strs()
	s.Dir = d.str()
	s.Network = d.flag()
	s.IPC = d.flag()
	if n := d.count(); n > 0 {
		s.Binds = make([]Bind, n)
		for i := range s.Binds {
			s.Binds[i] = Bind{Source: d.str(), Dest: d.str(), Writable: d.flag(), Device: d.flag()}
		}
	}
	s.UID = int(d.int())
	s.GID = int(d.int())
	s.UserName = d.str()
	s.Features = Features{Devel: d.flag(), Multiarch: d.flag(), Bluetooth: d.flag(), Canbus: d.flag()}
	s.Seccomp = d.bytes()
	s.Info = d.bytes()
	s.Home = d.str()
	s.System = d.flag()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the spec", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("sandbox spec: %w", d.err)
	}
	return nil
}

type enc struct{ b []byte }

func (e *enc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *enc) bytes(p []byte) {
	e.uint(uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *enc) strs(l []string) {
	e.uint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}
func (e *enc) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// dec reads what enc wrote; after the first error every read returns a
// zero value and err keeps that error.
type dec struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *dec) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count is a list's length, which cannot exceed the bytes left (every
// item takes at least one).
func (d *dec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}

func (d *dec) bytes() []byte {
	n := d.count()
	if d.err != nil || n == 0 {
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.str()
	}
	return l
}

func (d *dec) flag() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(errors.New("bad flag"))
	return false
}
