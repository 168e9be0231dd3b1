package boot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// program is what the sandbox's first process will do, made by the
// caller: ops over a pool of data (paths, file contents, structures),
// laid out at the addresses the child's copy of the region has.
type program struct {
	base  uintptr // the region's address, the same in the child
	image []byte  // header, registers and pool; the ops go after
	ops   []op
	steps []string // what each op is for, for its error
	regs  uint64   // registers handed out
	err   error    // of making the program
	// notFound is the op that execs the command's last candidate: its
	// ENOENT means the command is not in the sandbox.
	notFound int
	hows     map[uint64]uint64 // open_how structures in the pool, by flags
}

func newProgram(base uintptr) *program {
	p := &program{base: base, image: make([]byte, offPool, 64<<10), notFound: -1, hows: map[uint64]uint64{}}
	for i := 0; i < nregs; i++ {
		binary.NativeEndian.PutUint64(p.image[offRegs+8*i:], ^uint64(0))
	}
	return p
}

// data puts b in the pool, 8-aligned, and returns its address in the
// child.
func (p *program) data(b []byte) uint64 {
	for len(p.image)%8 != 0 {
		p.image = append(p.image, 0)
	}
	at := len(p.image)
	p.image = append(p.image, b...)
	return uint64(p.base) + uint64(at)
}

// str is s as a C string in the pool.
func (p *program) str(s string) uint64 { return p.data(append([]byte(s), 0)) }

// strv is a NULL-terminated array of C strings in the pool.
func (p *program) strv(ss []string) uint64 {
	ptrs := make([]byte, 8*(len(ss)+1))
	for i, s := range ss {
		binary.NativeEndian.PutUint64(ptrs[8*i:], p.str(s))
	}
	return p.data(ptrs)
}

// words puts 64-bit words in the pool (kernel structures made of them).
func (p *program) words(w ...uint64) uint64 {
	b := make([]byte, 8*len(w))
	for i, v := range w {
		binary.NativeEndian.PutUint64(b[8*i:], v)
	}
	return p.data(b)
}

// reg hands out a register, named 1+index as dst and guard take it;
// running out is an error bytes reports.
func (p *program) reg() uint64 {
	if p.regs == nregs {
		p.err = errors.New("sandbox: too many binds")
		return nregs
	}
	p.regs++
	return p.regs
}

// arg is an immediate, or a register when made by in.
type arg struct {
	v   uint64
	reg bool
}

func imm(v uint64) arg                                            { return arg{v: v} }
func in(r uint64) arg                                             { return arg{v: r - 1, reg: true} }
func num[T ~int | ~uintptr | ~uint32 | ~int32 | ~uint64](v T) arg { return arg{v: uint64(v)} }

// sys adds a system call and returns it for its dst, guard, ok and flags.
func (p *program) sys(step string, trap uintptr, args ...arg) *op {
	o := op{trap: uint64(trap)}
	for i, a := range args {
		o.args[i] = a.v
		if a.reg {
			o.regs |= 1 << i
		}
	}
	p.ops = append(p.ops, o)
	p.steps = append(p.steps, step)
	return &p.ops[len(p.ops)-1]
}

// expect makes the program fail unless the word at addr, an address in
// the pool, holds want.
func (p *program) expect(step string, addr, want uint64) {
	p.sys(step, trapExpect, imm(addr-uint64(p.base)), imm(want))
}

// bytes is the whole image to send: header, registers, pool, ops.
func (p *program) bytes(status int) ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	for len(p.image)%8 != 0 {
		p.image = append(p.image, 0)
	}
	opsAt := len(p.image)
	ops := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p.ops))), len(p.ops)*int(opSize))
	img := append(p.image, ops...)
	if len(img) > maxImage {
		return nil, fmt.Errorf("sandbox: the spec takes %d bytes, more than %d", len(img), maxImage)
	}
	binary.NativeEndian.PutUint64(img[offLen:], uint64(len(img)))
	binary.NativeEndian.PutUint64(img[offNops:], uint64(len(p.ops)))
	binary.NativeEndian.PutUint64(img[offStatus:], uint64(status))
	binary.NativeEndian.PutUint64(img[offOps:], uint64(opsAt))
	return img, nil
}

// failure is the error of op pc failing with errno.
func (p *program) failure(pc int, errno unix.Errno, command, path string) error {
	if pc < 0 || pc >= len(p.steps) {
		return fmt.Errorf("step %d failed: %w", pc, errno)
	}
	if pc == p.notFound && errno == unix.ENOENT {
		return fmt.Errorf("%s: command not found in the sandbox (PATH=%s)", command, path)
	}
	if p.ops[pc].trap == trapExpect {
		return fmt.Errorf("%s: it changed while the sandbox was made; refused", p.steps[pc])
	}
	if errno == unix.ELOOP && p.ops[pc].trap == unix.SYS_OPENAT2 {
		return fmt.Errorf("%s: a symlink is on the way; refused", p.steps[pc])
	}
	return fmt.Errorf("%s: %w", p.steps[pc], errno)
}
