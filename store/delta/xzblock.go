package delta

import (
	"encoding/binary"
	"hash/crc32"
)

// xzBlock frames raw LZMA2 chunks (ending with the end mark) as one xz
// stream of one block, with a CRC64 check of the usize bytes they make:
// what liblzma's stream encoder writes around its own chunks, for chunks
// that two encoders made side by side. The block header gives the
// smallest window of LZMA2's list that holds window, as the encoder's
// does.
func xzBlock(window int, chunks [][]byte, usize uint64, check uint64) []byte {
	flags := []byte{0, 0x04} // CRC64
	var csize int
	for _, c := range chunks {
		csize += len(c)
	}
	// Room for it all: headers, chunks, padding, check, index, footer.
	out := make([]byte, 0, 12+12+csize+3+8+32+12)
	out = append(out, 0xfd, '7', 'z', 'X', 'Z', 0)
	out = append(out, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(flags))

	// Block header: its size, no sizes given, one filter (LZMA2, one
	// byte of properties: the window), padded to four, its CRC32.
	hdr := []byte{0, 0, 0x21, 1, lzma2DictProp(window), 0, 0, 0}
	hdr[0] = byte((len(hdr)+4)/4 - 1)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(hdr))
	out = append(out, hdr...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	for i := csize; i%4 != 0; i++ {
		out = append(out, 0)
	}
	out = binary.LittleEndian.AppendUint64(out, check)

	// Index: one record of the block's unpadded and uncompressed sizes.
	idx := []byte{0}
	idx = binary.AppendUvarint(idx, 1)
	idx = binary.AppendUvarint(idx, uint64(len(hdr)+csize+8))
	idx = binary.AppendUvarint(idx, usize)
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	out = append(out, idx...)

	foot := binary.LittleEndian.AppendUint32(nil, uint32(len(idx)/4-1))
	foot = append(foot, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(foot))
	out = append(out, foot...)
	return append(out, 'Y', 'Z')
}

// lzma2DictProp is LZMA2's window byte: the smallest size of the form
// 2 or 3 times a power of two (from 4 KiB) that is at least window.
func lzma2DictProp(window int) byte {
	for p := 0; p < 40; p++ {
		if (2|p&1)<<(p/2+11) >= window {
			return byte(p)
		}
	}
	return 40 // 4 GiB - 1
}
