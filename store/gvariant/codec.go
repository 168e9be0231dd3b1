package gvariant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Values map to Go types as follows:
//
//	y uint8   b bool    n int16   q uint16   i,h int32   u uint32
//	x int64   t uint64  d float64 s,o,g string
//	v Variant ay []byte  a* []any  m Maybe   (...) and {..} []any
type Variant struct {
	Type  *Type
	Value any
}

// Maybe is the value of an 'm' type; Valid is false for Nothing.
type Maybe struct {
	Valid bool
	Value any
}

// ErrNotNormal is returned for data that decodes but is not in normal form.
var ErrNotNormal = errors.New("gvariant: data is not in normal form")

// Encode serializes v as type t in normal form.
func Encode(t *Type, v any) ([]byte, error) {
	e := encoder{}
	if err := e.value(t, v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// MustEncode is Encode for values built by the program itself, where a
// mismatch between type and value is a bug.
func MustEncode(t *Type, v any) []byte {
	b, err := Encode(t, v)
	if err != nil {
		panic(err)
	}
	return b
}

type encoder struct{ buf []byte }

func (e *encoder) pad(align int) {
	for len(e.buf)%align != 0 {
		e.buf = append(e.buf, 0)
	}
}

func typeErr(t *Type, v any) error {
	return fmt.Errorf("gvariant: value of Go type %T does not fit type %q", v, t.sig)
}

func (e *encoder) value(t *Type, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("gvariant: value nested too deep")
	}
	var ok bool
	switch t.Kind {
	case 'y':
		var x uint8
		if x, ok = v.(uint8); ok {
			e.buf = append(e.buf, x)
		}
	case 'b':
		var x bool
		if x, ok = v.(bool); ok {
			b := byte(0)
			if x {
				b = 1
			}
			e.buf = append(e.buf, b)
		}
	case 'n':
		var x int16
		if x, ok = v.(int16); ok {
			e.pad(2)
			e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(x))
		}
	case 'q':
		var x uint16
		if x, ok = v.(uint16); ok {
			e.pad(2)
			e.buf = binary.LittleEndian.AppendUint16(e.buf, x)
		}
	case 'i', 'h':
		var x int32
		if x, ok = v.(int32); ok {
			e.pad(4)
			e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(x))
		}
	case 'u':
		var x uint32
		if x, ok = v.(uint32); ok {
			e.pad(4)
			e.buf = binary.LittleEndian.AppendUint32(e.buf, x)
		}
	case 'x':
		var x int64
		if x, ok = v.(int64); ok {
			e.pad(8)
			e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(x))
		}
	case 't':
		var x uint64
		if x, ok = v.(uint64); ok {
			e.pad(8)
			e.buf = binary.LittleEndian.AppendUint64(e.buf, x)
		}
	case 'd':
		var x float64
		if x, ok = v.(float64); ok {
			e.pad(8)
			e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(x))
		}
	case 's', 'o', 'g':
		var x string
		if x, ok = v.(string); ok {
			if err := checkString(x); err != nil {
				return err
			}
			e.buf = append(e.buf, x...)
			e.buf = append(e.buf, 0)
		}
	case 'v':
		var x Variant
		if x, ok = v.(Variant); ok {
			if x.Type == nil {
				return errors.New("gvariant: variant without a type")
			}
			e.pad(8)
			if err := e.value(x.Type, x.Value, depth+1); err != nil {
				return err
			}
			e.buf = append(e.buf, 0)
			e.buf = append(e.buf, x.Type.sig...)
		}
	case 'm':
		var x Maybe
		if x, ok = v.(Maybe); ok {
			e.pad(t.align)
			if x.Valid {
				if err := e.value(t.Elem, x.Value, depth+1); err != nil {
					return err
				}
				if t.Elem.size == 0 {
					e.buf = append(e.buf, 0)
				}
			}
		}
	case 'a':
		return e.array(t, v, depth)
	case '(', '{':
		var x []any
		if x, ok = v.([]any); ok {
			return e.tuple(t, x, depth)
		}
	}
	if !ok {
		return typeErr(t, v)
	}
	return nil
}

func (e *encoder) array(t *Type, v any, depth int) error {
	e.pad(t.align)
	if t.Elem.Kind == 'y' {
		b, ok := v.([]byte)
		if !ok {
			return typeErr(t, v)
		}
		e.buf = append(e.buf, b...)
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		return typeErr(t, v)
	}
	start := len(e.buf)
	if t.Elem.size > 0 {
		for _, it := range items {
			if err := e.value(t.Elem, it, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	ends := make([]int, 0, len(items))
	for _, it := range items {
		e.pad(t.Elem.align)
		if err := e.value(t.Elem, it, depth+1); err != nil {
			return err
		}
		ends = append(ends, len(e.buf)-start)
	}
	e.offsets(start, ends)
	return nil
}

func (e *encoder) tuple(t *Type, vals []any, depth int) error {
	if len(vals) != len(t.Fields) {
		return fmt.Errorf("gvariant: %d values for type %q", len(vals), t.sig)
	}
	e.pad(t.align)
	start := len(e.buf)
	if len(t.Fields) == 0 {
		e.buf = append(e.buf, 0)
		return nil
	}
	var ends []int
	for i, f := range t.Fields {
		e.pad(f.align)
		if err := e.value(f, vals[i], depth+1); err != nil {
			return err
		}
		if f.size == 0 && i != len(t.Fields)-1 {
			ends = append(ends, len(e.buf)-start)
		}
	}
	if t.size > 0 {
		e.pad(t.align)
		return nil
	}
	// Tuple offsets are stored last-recorded first.
	for i, j := 0, len(ends)-1; i < j; i, j = i+1, j-1 {
		ends[i], ends[j] = ends[j], ends[i]
	}
	e.offsets(start, ends)
	return nil
}

// offsets appends a framing-offset table with the smallest width that can
// address the whole container, table included.
func (e *encoder) offsets(start int, ends []int) {
	if len(ends) == 0 {
		return
	}
	w := TableWidth(len(e.buf)-start, len(ends))
	for _, o := range ends {
		e.buf = AppendOffset(e.buf, o, w)
	}
}

// TableWidth is the width the encoder gives a framing-offset table of k
// offsets after body bytes: the smallest that addresses the whole
// container, table included.
func TableWidth(body, k int) int {
	w := 1
	for ; w < 8; w *= 2 {
		if uint64(body+k*w) <= uint64(1)<<(8*w)-1 {
			break
		}
	}
	return w
}

// AppendOffset appends framing offset o, w bytes little-endian.
func AppendOffset(b []byte, o, w int) []byte {
	for i := 0; i < w; i++ {
		b = append(b, byte(uint64(o)>>(8*i)))
	}
	return b
}

func checkString(s string) error {
	if bytes.IndexByte([]byte(s), 0) >= 0 {
		return errors.New("gvariant: string contains NUL")
	}
	if !utf8.ValidString(s) {
		return errors.New("gvariant: string is not valid UTF-8")
	}
	return nil
}

// Decode parses data as type t. It returns an error for malformed data and
// ErrNotNormal for data that is well formed but not in normal form, since
// checksums over such bytes would not match what OSTree computes.
func Decode(t *Type, data []byte) (any, error) {
	v, err := decode(t, data, 0)
	if err != nil {
		return nil, fmt.Errorf("gvariant: decoding %q: %w", t.sig, err)
	}
	// Normal form is exactly the form the encoder writes: one encoding per value.
	again, err := Encode(t, v)
	if err != nil {
		return nil, fmt.Errorf("gvariant: decoding %q: %w", t.sig, err)
	}
	if !bytes.Equal(again, data) {
		return nil, ErrNotNormal
	}
	return v, nil
}

// OffsetWidth is the width of the framing offsets in a container of n
// bytes (0 for an empty one).
func OffsetWidth(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case uint64(n) <= 0xffffffff:
		return 4
	}
	return 8
}

// ReadOffset reads a little-endian framing offset of len(b) bytes.
func ReadOffset(b []byte) uint64 {
	var o uint64
	for i := len(b) - 1; i >= 0; i-- {
		o = o<<8 | uint64(b[i])
	}
	return o
}

var (
	errSize   = errors.New("wrong size for fixed type")
	errFrame  = errors.New("bad framing offset")
	errString = errors.New("bad string")
)

func decode(t *Type, d []byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTypeDepth
	}
	if t.size > 0 && len(d) != t.size {
		return nil, fmt.Errorf("%w %q: %d bytes", errSize, t.sig, len(d))
	}
	switch t.Kind {
	case 'y':
		return d[0], nil
	case 'b':
		if d[0] > 1 {
			return nil, errors.New("boolean is neither 0 nor 1")
		}
		return d[0] == 1, nil
	case 'n':
		return int16(binary.LittleEndian.Uint16(d)), nil
	case 'q':
		return binary.LittleEndian.Uint16(d), nil
	case 'i', 'h':
		return int32(binary.LittleEndian.Uint32(d)), nil
	case 'u':
		return binary.LittleEndian.Uint32(d), nil
	case 'x':
		return int64(binary.LittleEndian.Uint64(d)), nil
	case 't':
		return binary.LittleEndian.Uint64(d), nil
	case 'd':
		return math.Float64frombits(binary.LittleEndian.Uint64(d)), nil
	case 's', 'o', 'g':
		if len(d) == 0 || d[len(d)-1] != 0 {
			return nil, errString
		}
		s := string(d[:len(d)-1])
		if err := checkString(s); err != nil {
			return nil, err
		}
		return s, nil
	case 'v':
		sep := bytes.LastIndexByte(d, 0)
		if sep < 0 {
			return nil, errors.New("variant without type string")
		}
		ct, err := ParseType(string(d[sep+1:]))
		if err != nil {
			return nil, err
		}
		cv, err := decode(ct, d[:sep], depth+1)
		if err != nil {
			return nil, err
		}
		return Variant{Type: ct, Value: cv}, nil
	case 'm':
		if len(d) == 0 {
			return Maybe{}, nil
		}
		if t.Elem.size == 0 {
			if d[len(d)-1] != 0 {
				return nil, errors.New("maybe without trailing zero")
			}
			d = d[:len(d)-1]
		}
		cv, err := decode(t.Elem, d, depth+1)
		if err != nil {
			return nil, err
		}
		return Maybe{Valid: true, Value: cv}, nil
	case 'a':
		return decodeArray(t, d, depth)
	case '(', '{':
		return decodeTuple(t, d, depth)
	}
	return nil, fmt.Errorf("unknown type %q", t.sig)
}

func decodeArray(t *Type, d []byte, depth int) (any, error) {
	if t.Elem.Kind == 'y' {
		return append([]byte(nil), d...), nil
	}
	if len(d) == 0 {
		return []any{}, nil
	}
	if es := t.Elem.size; es > 0 {
		if len(d)%es != 0 {
			return nil, fmt.Errorf("array %q of %d bytes", t.sig, len(d))
		}
		out := make([]any, 0, len(d)/es)
		for i := 0; i < len(d); i += es {
			v, err := decode(t.Elem, d[i:i+es], depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	w := OffsetWidth(len(d))
	last := ReadOffset(d[len(d)-w:])
	if last > uint64(len(d)-w) || (uint64(len(d))-last)%uint64(w) != 0 {
		return nil, errFrame
	}
	table := int(last)
	n := (len(d) - table) / w
	out := make([]any, 0, n)
	pos := 0
	for i := 0; i < n; i++ {
		end := ReadOffset(d[table+i*w : table+(i+1)*w])
		start := alignUp(pos, t.Elem.align)
		if end > uint64(table) || uint64(start) > end {
			return nil, errFrame
		}
		v, err := decode(t.Elem, d[start:end], depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		pos = int(end)
	}
	return out, nil
}

func decodeTuple(t *Type, d []byte, depth int) (any, error) {
	if len(t.Fields) == 0 {
		if len(d) != 1 || d[0] != 0 {
			return nil, errors.New("bad unit tuple")
		}
		return []any{}, nil
	}
	w := OffsetWidth(len(d))
	nOff := 0
	for i, f := range t.Fields {
		if f.size == 0 && i != len(t.Fields)-1 {
			nOff++
		}
	}
	if t.size > 0 {
		w, nOff = 0, 0
	}
	if nOff*w > len(d) {
		return nil, errFrame
	}
	frame := len(d) - nOff*w
	out := make([]any, 0, len(t.Fields))
	pos, used := 0, 0
	for i, f := range t.Fields {
		start := alignUp(pos, f.align)
		var end int
		switch {
		case f.size > 0:
			end = start + f.size
		case i == len(t.Fields)-1:
			end = frame
		default:
			used++
			o := ReadOffset(d[len(d)-used*w : len(d)-(used-1)*w])
			if o > uint64(frame) {
				return nil, errFrame
			}
			end = int(o)
		}
		if start > end || end > frame {
			return nil, errFrame
		}
		v, err := decode(f, d[start:end], depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		pos = end
	}
	return out, nil
}
