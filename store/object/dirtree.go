package object

import (
	"arbor/store/gvariant"
)

// A dirtree, (a(say)a(sayay)), is the object a pull, a checkout, a mount
// and fsck read most, thousands of times a command: the generic GVariant
// decoder builds a value of interfaces and encodes it again to check normal
// form, a third of a delta pull's time. Its types all align to one byte,
// so its normal form is simple to write directly: each container ends with
// a table of its members' end offsets, of the smallest width that can
// address the container (1, 2, 4 or 8 bytes); a tuple's table lists its
// variable-size members but the last, last first. encodeDirTree writes
// exactly what gvariant.Encode writes for the same lists (the tests check
// it against the generic encoder); parseDirTreeFast reads a dirtree and
// takes it only in that form (each table of the width the encoder gives
// its container, each member where the one before ends, nothing between
// or after), the generic decoder's test of normal form without encoding
// again (the tests check that what it takes encodes to the same bytes).

// readOffset is gvariant.ReadOffset as an int, -1 past what one holds.
func readOffset(b []byte) int {
	v := gvariant.ReadOffset(b)
	if v > uint64(^uint(0)>>1) {
		return -1
	}
	return int(v)
}

// dirTreeSize bounds the encoding's size, for one allocation.
func dirTreeSize(t *DirTree) int {
	n := 8
	for _, f := range t.Files {
		n += len(f.Name) + 1 + 32 + 2*8
	}
	for _, d := range t.Dirs {
		n += len(d.Name) + 1 + 64 + 3*8
	}
	return n
}

// encodeDirTree appends the dirtree's normal form, its lists in the order
// given, to b.
func encodeDirTree(b []byte, t *DirTree) []byte {
	start := len(b)
	ends := make([]int, 0, max(len(t.Files), len(t.Dirs)))
	arrStart := len(b)
	for _, f := range t.Files {
		s := len(b)
		b = append(b, f.Name...)
		b = append(b, 0)
		nameEnd := len(b) - s
		b = append(b, f.Checksum[:]...)
		b = gvariant.AppendOffset(b, nameEnd, gvariant.TableWidth(len(b)-s, 1))
		ends = append(ends, len(b)-arrStart)
	}
	b = appendTable(b, arrStart, ends)
	filesEnd := len(b) - start
	ends = ends[:0]
	arrStart = len(b)
	for _, d := range t.Dirs {
		s := len(b)
		b = append(b, d.Name...)
		b = append(b, 0)
		nameEnd := len(b) - s
		b = append(b, d.Tree[:]...)
		treeEnd := len(b) - s
		b = append(b, d.Meta[:]...)
		w := gvariant.TableWidth(len(b)-s, 2)
		b = gvariant.AppendOffset(b, treeEnd, w)
		b = gvariant.AppendOffset(b, nameEnd, w)
		ends = append(ends, len(b)-arrStart)
	}
	b = appendTable(b, arrStart, ends)
	return gvariant.AppendOffset(b, filesEnd, gvariant.TableWidth(len(b)-start, 1))
}

// appendTable closes the array that began at start with the framing
// offsets of its members' ends, if it has any.
func appendTable(b []byte, start int, ends []int) []byte {
	if len(ends) == 0 {
		return b
	}
	w := gvariant.TableWidth(len(b)-start, len(ends))
	for _, o := range ends {
		b = gvariant.AppendOffset(b, o, w)
	}
	return b
}

// arrayTable finds the table of an array of variable-size members: where
// it starts, the width of its offsets and how many members it frames; ok
// is false when it cannot frame the array.
func arrayTable(a []byte) (table, w, n int, ok bool) {
	if len(a) == 0 {
		return 0, 1, 0, true
	}
	w = gvariant.OffsetWidth(len(a))
	if len(a) < w {
		return 0, 0, 0, false
	}
	table = readOffset(a[len(a)-w:])
	if table < 0 || table > len(a)-w || (len(a)-table)%w != 0 {
		return 0, 0, 0, false
	}
	n = (len(a) - table) / w
	if w != gvariant.TableWidth(table, n) {
		return 0, 0, 0, false // not the width the encoder gives these members
	}
	return table, w, n, true
}

// splitArray cuts an array of variable-size members into them, each with
// its offset in the array; ok is false when its table does not frame it.
func splitArray(a []byte, each func(off int, e []byte) bool) bool {
	table, w, _, ok := arrayTable(a)
	if !ok {
		return false
	}
	start := 0
	for p := table; p < len(a); p += w {
		end := readOffset(a[p : p+w])
		if end < start || end > table {
			return false
		}
		if !each(start, a[start:end]) {
			return false
		}
		start = end
	}
	return start == table
}

// tupleOffsets reads the framing offsets of a (s ay...) tuple e, n of them
// at its end, the name's end last, and returns them first-member first.
func tupleOffsets(e []byte, n int) (offs [2]int, body []byte, ok bool) {
	w := gvariant.OffsetWidth(len(e))
	if len(e) < n*w || w != gvariant.TableWidth(len(e)-n*w, n) {
		return offs, nil, false
	}
	body = e[:len(e)-n*w]
	for i := 0; i < n; i++ {
		// Stored last-recorded first.
		o := readOffset(e[len(e)-(i+1)*w : len(e)-i*w])
		if o < 0 || o > len(body) {
			return offs, nil, false
		}
		offs[i] = o
	}
	return offs, body, true
}

// entryName reads a NUL-terminated name, n bytes at off in all, that
// ValidateName accepts.
func entryName(all string, off, n int) (string, bool) {
	if n < 2 || all[off+n-1] != 0 {
		return "", false
	}
	name := all[off : off+n-1]
	return name, ValidateName(name) == nil
}

// parseDirTreeFast decodes a dirtree in normal form whose names are valid
// and in strictly ascending byte order, as ostree and arbor write them;
// ok is false for anything else, which the generic decoder then reads or
// refuses in its own words.
func parseDirTreeFast(b []byte) (t DirTree, ok bool) {
	if len(b) == 0 {
		return t, false
	}
	w := gvariant.OffsetWidth(len(b))
	if len(b) < w {
		return t, false
	}
	filesEnd := readOffset(b[len(b)-w:])
	if filesEnd < 0 || filesEnd > len(b)-w || w != gvariant.TableWidth(len(b)-w, 1) {
		return t, false
	}
	files, dirs := b[:filesEnd], b[filesEnd:len(b)-w]
	_, _, nf, ok1 := arrayTable(files)
	_, _, nd, ok2 := arrayTable(dirs)
	if !ok1 || !ok2 {
		return t, false
	}
	t.Files, t.Dirs = make([]FileEntry, 0, nf), make([]DirEntry, 0, nd)
	// The names are substrings of one copy of the object: one allocation,
	// not one a name.
	all := string(b)
	last := ""
	ok = splitArray(files, func(off int, e []byte) bool {
		offs, body, ok := tupleOffsets(e, 1)
		if !ok || len(body)-offs[0] != 32 {
			return false
		}
		n, ok := entryName(all, off, offs[0])
		if !ok || (len(t.Files) > 0 && n <= last) {
			return false
		}
		var c Checksum
		copy(c[:], body[offs[0]:])
		t.Files = append(t.Files, FileEntry{n, c})
		last = n
		return true
	})
	if !ok {
		return DirTree{}, false
	}
	last = ""
	ok = splitArray(dirs, func(off int, e []byte) bool {
		offs, body, ok := tupleOffsets(e, 2)
		nameEnd, treeEnd := offs[0], offs[1]
		if !ok || nameEnd > treeEnd || treeEnd-nameEnd != 32 || len(body)-treeEnd != 32 {
			return false
		}
		n, ok := entryName(all, filesEnd+off, nameEnd)
		if !ok || (len(t.Dirs) > 0 && n <= last) {
			return false
		}
		d := DirEntry{Name: n}
		copy(d.Tree[:], body[nameEnd:treeEnd])
		copy(d.Meta[:], body[treeEnd:])
		t.Dirs = append(t.Dirs, d)
		last = n
		return true
	})
	if !ok || !disjoint(t.Files, t.Dirs) {
		return DirTree{}, false
	}
	if len(t.Files) == 0 {
		t.Files = nil // as the generic decoder leaves them
	}
	if len(t.Dirs) == 0 {
		t.Dirs = nil
	}
	return t, true
}

// disjoint says no name is both a file and a directory, of two lists in
// ascending order.
func disjoint(files []FileEntry, dirs []DirEntry) bool {
	i, j := 0, 0
	for i < len(files) && j < len(dirs) {
		switch {
		case files[i].Name < dirs[j].Name:
			i++
		case files[i].Name > dirs[j].Name:
			j++
		default:
			return false
		}
	}
	return true
}
