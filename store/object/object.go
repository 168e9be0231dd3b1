// Package object holds OSTree's object formats: checksums, object types and
// paths, and the dirmeta, dirtree, commit, file header and archive (.filez)
// encodings, byte for byte as libostree writes them.
package object

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// Checksum is a SHA-256 object name.
type Checksum [32]byte

// Zero is the empty checksum, used where a commit has no parent.
var Zero Checksum

// String returns the 64 lowercase hex digits.
func (c Checksum) String() string { return hex.EncodeToString(c[:]) }

// IsZero reports whether c is the empty checksum.
func (c Checksum) IsZero() bool { return c == Zero }

// ParseChecksum parses 64 hex digits.
func ParseChecksum(s string) (Checksum, error) {
	var c Checksum
	if len(s) != 64 {
		return c, fmt.Errorf("invalid checksum %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(c[:], []byte(s)); err != nil {
		return c, fmt.Errorf("invalid checksum %q: %w", s, err)
	}
	if strings.ToLower(s) != s {
		return c, fmt.Errorf("invalid checksum %q: not lowercase", s)
	}
	return c, nil
}

// ChecksumFromBytes converts a 32-byte checksum held in an object.
func ChecksumFromBytes(b []byte) (Checksum, error) {
	var c Checksum
	if len(b) != 32 {
		return c, fmt.Errorf("checksum of %d bytes, want 32", len(b))
	}
	copy(c[:], b)
	return c, nil
}

// Type is an OSTree object type; the values are OSTree's enum.
type Type uint8

// Object types.
const (
	TypeFile            Type = 1
	TypeDirTree         Type = 2
	TypeDirMeta         Type = 3
	TypeCommit          Type = 4
	TypeTombstoneCommit Type = 5
	TypeCommitMeta      Type = 6
)

var typeNames = [...]string{TypeFile: "file", TypeDirTree: "dirtree", TypeDirMeta: "dirmeta", TypeCommit: "commit",
	TypeTombstoneCommit: "tombstone-commit", TypeCommitMeta: "commitmeta"}

// String is OSTree's name for the type, also the loose file extension.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// IsMeta reports whether objects of this type are metadata (GVariant bytes).
func (t Type) IsMeta() bool { return t >= TypeDirTree && t <= TypeCommitMeta }

// ParseType reads a type name or loose file extension.
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n != "" && n == s {
			return Type(i), true
		}
	}
	return 0, false
}

// Ext returns the loose file extension: content is ".filez" in archive repos.
func (t Type) Ext(archive bool) string {
	if t == TypeFile && archive {
		return ".filez"
	}
	return "." + t.String()
}

// Path is an object's path relative to the repository root.
func Path(c Checksum, t Type, archive bool) string {
	h := c.String()
	return "objects/" + h[:2] + "/" + h[2:] + t.Ext(archive)
}

// Name is an object's name as OSTree prints it, CHECKSUM.TYPE.
func Name(c Checksum, t Type) string { return c.String() + "." + t.String() }

// ParseLooseName reads an object file name inside objects/XX/ back into its
// checksum and type; ok is false for anything that is not an object.
func ParseLooseName(prefix, name string) (c Checksum, t Type, archive, ok bool) {
	dot := strings.IndexByte(name, '.')
	if len(prefix) != 2 || dot != 62 {
		return c, 0, false, false
	}
	ext := name[dot+1:]
	if ext == "filez" {
		ext, archive = "file", true
	}
	t, ok = ParseType(ext)
	if !ok {
		return c, 0, false, false
	}
	var err error
	c, err = ParseChecksum(prefix + name[:62])
	return c, t, archive, err == nil
}

// be32 converts between host values and the big-endian numbers OSTree stores
// inside otherwise little-endian GVariant data.
func be32(x uint32) uint32 { return bits.ReverseBytes32(x) }
func be64(x uint64) uint64 { return bits.ReverseBytes64(x) }

// ValidateName checks a directory entry name as OSTree does, so a repo can
// never make a checkout or a mount escape its root.
func ValidateName(name string) error {
	switch {
	// In ostree's words, which scripts grep for.
	case name == "":
		return errors.New("Invalid empty filename")
	case name == ".":
		return errors.New("Invalid self-referential filename '.'")
	case name == "..":
		return errors.New("Invalid path uplink filename '..'")
	case strings.Contains(name, "/"):
		return fmt.Errorf("Invalid / in filename %s", name)
	case strings.Contains(name, "\x00"):
		return fmt.Errorf("Invalid NUL in filename %q", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("Invalid UTF-8 in filename %q", name)
	}
	return nil
}

// Mode bits.
const (
	ModeTypeMask = 0o170000
	ModeDir      = 0o040000
	ModeRegular  = 0o100000
	ModeSymlink  = 0o120000
	ModePerm     = 0o7777
)

// ValidateFileMode accepts regular files and symlinks with no stray bits.
func ValidateFileMode(mode uint32) error {
	t := mode & ModeTypeMask
	if (t != ModeRegular && t != ModeSymlink) || mode&^(ModeTypeMask|ModePerm) != 0 {
		return fmt.Errorf("invalid content mode %#o", mode)
	}
	return nil
}

// ValidateDirMode accepts directory modes with no stray bits.
func ValidateDirMode(mode uint32) error {
	if mode&ModeTypeMask != ModeDir || mode&^(ModeTypeMask|ModePerm) != 0 {
		return fmt.Errorf("invalid directory mode %#o", mode)
	}
	return nil
}

// Sha256 is the checksum of a metadata object's bytes.
func Sha256(b []byte) Checksum { return sha256.Sum256(b) }
