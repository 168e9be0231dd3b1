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
	"sort"
	"strings"
	"time"
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

// MaxDocument bounds an AppStream document read whole.
const MaxDocument = 256 << 20

// Caps per component, so that a hostile catalogue costs a bounded amount
// of memory per app whatever its size.
const (
	maxReleases    = 100
	maxScreenshots = 50
	maxList        = 100 // categories, keywords, paragraphs, list items
	maxText        = 64 << 10
)

// Component is an app as AppStream data describes it. Text is as the
// document has it (whitespace collapsed); printing escapes it.
type Component struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Summary     string       `json:"summary"`
	Description []Paragraph  `json:"description,omitempty"`
	Bundle      string       `json:"bundle"`                // the flatpak ref
	Icon        string       `json:"icon,omitempty"`        // a cached icon's file name (icons/64x64/ of the AppStream commit)
	RemoteIcon  string       `json:"remote_icon,omitempty"` // an icon's URL
	Categories  []string     `json:"categories,omitempty"`
	Keywords    []string     `json:"keywords,omitempty"`
	Developer   string       `json:"developer,omitempty"`
	License     string       `json:"license,omitempty"`
	Homepage    string       `json:"homepage,omitempty"`
	Releases    []Release    `json:"releases,omitempty"` // newest first
	Screenshots []Screenshot `json:"screenshots,omitempty"`
}

// Paragraph is a <p> of a description, or the items of a <ul> or <ol>.
type Paragraph struct {
	Text  string   `json:"text,omitempty"`
	Items []string `json:"items,omitempty"`
}

// Release is a version and its notes.
type Release struct {
	Version     string      `json:"version"`
	Date        string      `json:"date,omitempty"` // YYYY-MM-DD
	Description []Paragraph `json:"description,omitempty"`
}

// Screenshot is an image of the app.
type Screenshot struct {
	URL     string `json:"url"`
	Caption string `json:"caption,omitempty"`
	Default bool   `json:"default,omitempty"`
}

// Version is the newest release's version.
func (c Component) Version() string {
	if len(c.Releases) == 0 {
		return ""
	}
	return c.Releases[0].Version
}

// The document as decoded; xml:lang variants are told apart and dropped.
type text struct {
	Lang string `xml:"lang,attr"`
	Text string `xml:",chardata"`
}

type rawComponent struct {
	ID          string    `xml:"id"`
	Names       []text    `xml:"name"`
	Summaries   []text    `xml:"summary"`
	Description []rawDesc `xml:"description"`
	Bundles     []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"bundle"`
	Icons []struct {
		Type   string `xml:"type,attr"`
		Width  int    `xml:"width,attr"`
		Height int    `xml:"height,attr"`
		Text   string `xml:",chardata"`
	} `xml:"icon"`
	Categories    []string `xml:"categories>category"`
	Keywords      []text   `xml:"keywords>keyword"`
	DeveloperName []text   `xml:"developer_name"`
	Developer     struct {
		Names []text `xml:"name"`
	} `xml:"developer"`
	License string `xml:"project_license"`
	URLs    []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"url"`
	Releases []struct {
		Version     string    `xml:"version,attr"`
		Date        string    `xml:"date,attr"`
		Timestamp   int64     `xml:"timestamp,attr"`
		Description []rawDesc `xml:"description"`
	} `xml:"releases>release"`
	Screenshots []struct {
		Type     string `xml:"type,attr"`
		Captions []text `xml:"caption"`
		Images   []struct {
			Type  string `xml:"type,attr"`
			Width int    `xml:"width,attr"`
			Text  string `xml:",chardata"`
		} `xml:"image"`
	} `xml:"screenshots>screenshot"`
}

type rawDesc struct {
	Lang  string `xml:"lang,attr"`
	Inner []byte `xml:",innerxml"`
}

// Parse reads an appstream.xml (as build-update-repo writes) or a lone
// component.
func Parse(doc []byte) ([]Component, error) {
	if len(doc) > MaxDocument {
		return nil, fmt.Errorf("appstream.xml: %d bytes, over the limit of %d", len(doc), MaxDocument)
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var out []Component
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("appstream.xml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "component" {
			continue
		}
		var raw rawComponent
		if err := dec.DecodeElement(&raw, &se); err != nil {
			return nil, fmt.Errorf("appstream.xml: %w", err)
		}
		out = append(out, raw.component())
	}
}

// untranslated picks the text without xml:lang (or in C or English).
func untranslated(ts []text) string {
	for _, t := range ts {
		if t.Lang == "" || t.Lang == "C" {
			return clean(t.Text)
		}
	}
	for _, t := range ts {
		if strings.HasPrefix(t.Lang, "en") {
			return clean(t.Text)
		}
	}
	return ""
}

// clean collapses whitespace and bounds the length.
func clean(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxText {
		s = strings.ToValidUTF8(s[:maxText], "")
	}
	return s
}

func (r rawComponent) component() Component {
	c := Component{ID: clean(r.ID), Name: untranslated(r.Names), Summary: untranslated(r.Summaries),
		License: clean(r.License), Description: description(r.Description)}
	for _, b := range r.Bundles {
		if b.Type == "flatpak" || c.Bundle == "" {
			c.Bundle = clean(b.Text)
		}
	}
	bestCached := 0
	for _, i := range r.Icons {
		switch i.Type {
		case "cached":
			// The 64 pixel one is what the catalogue shows.
			if size := i.Width; c.Icon == "" || size == 64 || bestCached != 64 && size > bestCached {
				c.Icon, bestCached = clean(i.Text), size
			}
		case "remote":
			if c.RemoteIcon == "" {
				c.RemoteIcon = clean(i.Text)
			}
		}
	}
	for _, cat := range r.Categories {
		if len(c.Categories) < maxList {
			c.Categories = append(c.Categories, clean(cat))
		}
	}
	for _, k := range r.Keywords {
		if (k.Lang == "" || k.Lang == "C") && len(c.Keywords) < maxList {
			c.Keywords = append(c.Keywords, clean(k.Text))
		}
	}
	c.Developer = untranslated(r.Developer.Names)
	if c.Developer == "" {
		c.Developer = untranslated(r.DeveloperName)
	}
	for _, u := range r.URLs {
		if u.Type == "homepage" && c.Homepage == "" {
			c.Homepage = clean(u.Text)
		}
	}
	for _, rel := range r.Releases {
		if len(c.Releases) == maxReleases {
			break
		}
		date := clean(rel.Date)
		if len(date) > 10 {
			date = date[:10]
		}
		if date == "" && rel.Timestamp > 0 {
			date = time.Unix(rel.Timestamp, 0).UTC().Format("2006-01-02")
		}
		c.Releases = append(c.Releases, Release{Version: clean(rel.Version), Date: date, Description: description(rel.Description)})
	}
	// AppStream lists releases newest first; sorting by date keeps that
	// true of a document that does not.
	sort.SliceStable(c.Releases, func(i, j int) bool { return c.Releases[i].Date > c.Releases[j].Date })
	for _, s := range r.Screenshots {
		if len(c.Screenshots) == maxScreenshots {
			break
		}
		url, width := "", -1
		for _, im := range s.Images {
			if im.Type == "source" {
				url, width = clean(im.Text), 1<<30
			} else if im.Width > width {
				url, width = clean(im.Text), im.Width
			}
		}
		if url != "" {
			c.Screenshots = append(c.Screenshots, Screenshot{URL: url, Caption: untranslated(s.Captions), Default: s.Type == "default"})
		}
	}
	return c
}

// description reads the untranslated <description>: its paragraphs and
// lists, inline markup (em, code) flattened to its text. Older documents
// translate per paragraph (<p xml:lang>); those paragraphs are dropped.
func description(ds []rawDesc) []Paragraph {
	var inner []byte
	for _, d := range ds {
		if d.Lang == "" || d.Lang == "C" {
			inner = d.Inner
			break
		}
	}
	if inner == nil {
		return nil
	}
	dec := xml.NewDecoder(bytes.NewReader(inner))
	var out []Paragraph
	var buf strings.Builder
	var items []string
	depth, skip := 0, 0 // skip: the depth of a translated element being dropped
	inList, inPara := false, false
	for len(out) < maxList {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if skip > 0 {
				continue
			}
			if lang := attr(t, "lang"); lang != "" && lang != "C" {
				skip = depth
				continue
			}
			switch t.Name.Local {
			case "p":
				if !inList {
					inPara = true
					buf.Reset()
				}
			case "ul", "ol":
				inList, items = true, nil
			case "li":
				buf.Reset()
			}
		case xml.EndElement:
			if skip > 0 {
				if depth == skip {
					skip = 0
				}
				depth--
				continue
			}
			depth--
			switch t.Name.Local {
			case "p":
				if inPara && !inList {
					if s := clean(buf.String()); s != "" {
						out = append(out, Paragraph{Text: s})
					}
					inPara = false
				}
			case "li":
				if s := clean(buf.String()); s != "" && len(items) < maxList {
					items = append(items, s)
				}
			case "ul", "ol":
				if len(items) > 0 {
					out = append(out, Paragraph{Items: items})
				}
				inList = false
			}
		case xml.CharData:
			if skip == 0 && buf.Len() < maxText {
				buf.Write(t)
			}
		}
	}
	return out
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Matches reports whether text (case folded) is in the id, name, summary,
// keywords or developer.
func (c Component) Matches(text string) bool {
	t := strings.ToLower(text)
	for _, f := range append([]string{c.ID, c.Name, c.Summary, c.Developer}, c.Keywords...) {
		if strings.Contains(strings.ToLower(f), t) {
			return true
		}
	}
	return false
}
