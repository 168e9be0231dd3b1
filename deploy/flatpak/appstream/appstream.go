// Package appstream reads AppStream data, the catalogue of apps that
// software centres search: the components of an app's files and of a
// repository's appstream branch.
package appstream

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Components returns the <component> elements of an AppStream document
// (a lone component, or those inside <components>), re-encoded.
func Components(doc []byte) ([]byte, error) {
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

// Component is an app as AppStream data describes it.
type Component struct {
	ID      string `xml:"id" json:"id"`
	Name    string `xml:"name" json:"name"`
	Summary string `xml:"summary" json:"summary"`
	Bundle  string `xml:"bundle" json:"bundle"` // the flatpak ref
}

// Parse reads an appstream.xml (as build-update-repo writes).
func Parse(doc []byte) ([]Component, error) {
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
