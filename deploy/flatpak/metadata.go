package flatpak

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"

	"arbor/sandbox"
	"arbor/store/gvariant"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Metadata is an app's or runtime's metadata file.
type Metadata struct {
	Kind    Kind
	Name    string
	Runtime string // ID/ARCH/BRANCH of the runtime ("" for none)
	Sdk     string
	Command string
	Context *sandbox.Context // [Context] and [Environment]
	// Extensions are its [Extension NAME] points; those flatpak would
	// ignore are left out, with a warning in Context.Warnings.
	Extensions []ExtensionPoint
	File       *keyfile.File // the whole file, for the groups not modelled
	Raw        []byte        // the exact bytes, compared with xa.metadata
}

// ParseMetadata reads a metadata file. A NUL byte anywhere is refused:
// flatpak once compared only the text before one with the commit's copy
// while the rest granted hidden permissions (CVE-2021-43860).
func ParseMetadata(b []byte) (*Metadata, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, errors.New("metadata: contains a NUL byte")
	}
	kf, err := keyfile.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	m := &Metadata{File: kf, Raw: append([]byte(nil), b...)}
	group := "Application"
	m.Kind = App
	if !kf.HasGroup(group) {
		group, m.Kind = "Runtime", Runtime
		if !kf.HasGroup(group) {
			return nil, errors.New("metadata: neither [Application] nor [Runtime]")
		}
	}
	m.Name = kf.String(group, "name", "")
	if err := sandbox.ValidateID(m.Name); err != nil {
		return nil, fmt.Errorf("metadata: name: %w", err)
	}
	m.Runtime = kf.String(group, "runtime", "")
	m.Sdk = kf.String(group, "sdk", "")
	m.Command = kf.String(group, "command", "")
	for key, v := range map[string]string{"runtime": m.Runtime, "sdk": m.Sdk} {
		if v == "" {
			continue
		}
		if _, err := ParsePartial(Runtime, v); err != nil {
			return nil, fmt.Errorf("metadata: %s: %w", key, err)
		}
	}
	if m.Kind == App && m.Runtime == "" {
		return nil, errors.New("metadata: an app needs runtime=")
	}
	if m.Context, err = sandbox.ParseContext(kf); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var warnings []string
	m.Extensions, warnings = parseExtensions(kf)
	m.Context.Warnings = append(m.Context.Warnings, warnings...)
	return m, nil
}

// CommitMetadata is what build-export records in a commit of ref: the
// ref, the metadata text, the sizes (big-endian, as flatpak stores them)
// and the bindings.
func CommitMetadata(ref Ref, metadata []byte, installed, download uint64, collectionID string) []object.MetaEntry {
	be := func(key string, v uint64) object.MetaEntry {
		return object.MetaEntry{Key: key, Value: gvariant.Variant{Type: gvariant.MustType("t"), Value: bits.ReverseBytes64(v)}}
	}
	return []object.MetaEntry{
		object.String("ostree.collection-binding", collectionID),
		object.Strings("ostree.ref-binding", []string{ref.String()}),
		be("xa.download-size", download),
		be("xa.installed-size", installed),
		object.String("xa.metadata", string(metadata)),
		object.String("xa.ref", ref.String()),
	}
}

// CommitSizes reads the sizes CommitMetadata records: what the ref takes
// installed and what downloading it moves (0 when absent).
func CommitSizes(md []object.MetaEntry) (installed, download uint64) {
	get := func(key string) uint64 {
		if v, ok := object.Lookup(md, key); ok {
			if n, ok := v.Value.(uint64); ok {
				return bits.ReverseBytes64(n)
			}
		}
		return 0
	}
	return get("xa.installed-size"), get("xa.download-size")
}

// CheckCommitMetadata verifies, before a deploy, that a commit is of ref
// and that its xa.metadata is byte for byte the metadata file.
func CheckCommitMetadata(md []object.MetaEntry, ref Ref, metadata []byte) error {
	v, ok := object.Lookup(md, "xa.metadata")
	if !ok {
		return errors.New("commit has no xa.metadata")
	}
	s, ok := v.Value.(string)
	if !ok || s != string(metadata) {
		return errors.New("the metadata file differs from the commit's xa.metadata")
	}
	if v, ok := object.Lookup(md, "xa.ref"); ok {
		if s, _ := v.Value.(string); s != ref.String() {
			return fmt.Errorf("commit is of %s, not %s", s, ref)
		}
	}
	return nil
}
