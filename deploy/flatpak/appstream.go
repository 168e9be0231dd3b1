package flatpak

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"arbor/store"
	"arbor/store/object"
)

// maxAppStream bounds one app's AppStream file, against hostile builds.
const maxAppStream = 16 << 20

// appStreamOf reads an app commit's AppStream data: the composed
// files/share/app-info/xmls/ID.xml.gz, else files/share/metainfo/ID.metainfo.xml
// (or .appdata.xml). It returns the component elements, nil if none.
func appStreamOf(r *store.Repo, c object.Checksum, id string) ([]byte, error) {
	for _, p := range []string{"/files/share/app-info/xmls/" + id + ".xml.gz", "/files/share/metainfo/" + id + ".metainfo.xml",
		"/files/share/metainfo/" + id + ".appdata.xml", "/files/share/appdata/" + id + ".appdata.xml"} {
		if n, err := r.Lookup(c, p); err != nil || n.IsDir {
			continue
		}
		b, err := r.ReadFile(c, p, maxAppStream)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(p, ".gz") {
			z, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if b, err = io.ReadAll(io.LimitReader(z, maxAppStream)); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		return components(b)
	}
	return nil, nil
}

// components returns the <component> elements of an AppStream document
// (a lone component, or those inside <components>), re-encoded.
func components(doc []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var out bytes.Buffer
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("AppStream: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "component" {
			continue
		}
		var raw struct {
			XMLName xml.Name
			Attrs   []xml.Attr `xml:",any,attr"`
			Inner   []byte     `xml:",innerxml"`
		}
		if err := dec.DecodeElement(&raw, &se); err != nil {
			return nil, fmt.Errorf("AppStream: %w", err)
		}
		out.WriteString("  <component")
		for _, a := range raw.Attrs {
			fmt.Fprintf(&out, " %s=%q", a.Name.Local, a.Value)
		}
		out.WriteString(">")
		out.Write(raw.Inner)
		out.WriteString("</component>\n")
	}
}

// UpdateAppStream commits the AppStream data of every app of arch in the
// repository to appstream/ARCH (appstream.xml.gz) and appstream2/ARCH
// (appstream.xml, which deltas better), as build-update-repo does. Each
// component gets a <bundle> naming its ref. It returns how many apps had
// data.
func UpdateAppStream(ctx context.Context, r *store.Repo, arch string) (int, error) {
	refs, err := r.Refs()
	if err != nil {
		return 0, err
	}
	names := store.SortedRefNames(refs)
	sort.Strings(names)
	var body bytes.Buffer
	n := 0
	for _, name := range names {
		ref, err := ParseRef(name)
		if err != nil || ref.Kind != App || ref.Arch != arch {
			continue
		}
		comps, err := appStreamOf(r, refs[name], ref.ID)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if len(comps) == 0 {
			continue
		}
		bundle := fmt.Sprintf("<bundle type=\"flatpak\">%s</bundle>", name)
		body.Write(bytes.ReplaceAll(comps, []byte("</component>\n"), []byte("  "+bundle+"\n  </component>\n")))
		n++
	}
	doc := []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<components version=\"0.8\" origin=\"flatpak\">\n" + body.String() + "</components>\n")
	tmp, err := os.MkdirTemp(filepath.Join(r.Path(), "tmp"), "arbor-appstream-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(doc)
	zw.Close()
	for branch, file := range map[string]struct {
		name string
		data []byte
	}{"appstream/" + arch: {"appstream.xml.gz", gz.Bytes()}, "appstream2/" + arch: {"appstream.xml", doc}} {
		d := filepath.Join(tmp, strings.ReplaceAll(branch, "/", "-"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(d, file.name), file.data, 0o644); err != nil {
			return 0, err
		}
		if _, _, err := r.CommitDir(ctx, d, store.CommitOptions{Branch: branch, Subject: "Update " + branch,
			NoXattrs: true, CanonicalModes: true}); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Component is an app as AppStream data describes it.
type Component struct {
	ID      string `xml:"id" json:"id"`
	Name    string `xml:"name" json:"name"`
	Summary string `xml:"summary" json:"summary"`
	Bundle  string `xml:"bundle" json:"bundle"` // the flatpak ref
}

// ParseComponents reads an appstream.xml (as build-update-repo writes).
func ParseComponents(doc []byte) ([]Component, error) {
	var c struct {
		Components []Component `xml:"component"`
	}
	if err := xml.Unmarshal(doc, &c); err != nil {
		return nil, fmt.Errorf("appstream.xml: %w", err)
	}
	return c.Components, nil
}

// Matches reports whether text (case folded) is in the id, name or
// summary.
func (c Component) Matches(text string) bool {
	t := strings.ToLower(text)
	for _, f := range []string{c.ID, c.Name, c.Summary} {
		if strings.Contains(strings.ToLower(f), t) {
			return true
		}
	}
	return false
}
