package httpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// metalinkFile is the summary's entry in a metalink document: its size,
// checksums and the URLs it can be fetched from.
type metalinkFile struct {
	Name   string `xml:"name,attr"`
	Size   string `xml:"size"`
	Hashes []struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"verification>hash"`
	URLs []struct {
		Protocol   string `xml:"protocol,attr"`
		Preference string `xml:"preference,attr"`
		URL        string `xml:",chardata"`
	} `xml:"resources>url"`
}

type metalinkDoc struct {
	Files []metalinkFile `xml:"files>file"`
}

// metalinkSummary is what a metalink document says of the summary.
type metalinkSummary struct {
	size     int64 // -1: not given
	hashName string
	newHash  func() hash.Hash
	want     []byte
	urls     []string // by preference, highest first
}

// parseMetalink reads a metalink document's entry for the summary.
func parseMetalink(b []byte) (*metalinkSummary, error) {
	if !bytes.Contains(b, []byte("<")) {
		return nil, errors.New("Document must begin with an element (e.g. <book>)")
	}
	var doc metalinkDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("Document must begin with an element: %w", err)
	}
	var f *metalinkFile
	for i := range doc.Files {
		if doc.Files[i].Name == "summary" {
			f = &doc.Files[i]
		}
	}
	if f == nil {
		return nil, errors.New("No <file name=\"summary\"> element")
	}
	ms := &metalinkSummary{size: -1}
	if s := strings.TrimSpace(f.Size); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("Invalid <size> %q", s)
		}
		ms.size = n
	}
	// The strongest hash given is the one checked.
	for _, want := range []struct {
		name string
		h    func() hash.Hash
		n    int
	}{{"sha512", sha512.New, sha512.Size}, {"sha256", sha256.New, sha256.Size}} {
		for _, h := range f.Hashes {
			if h.Type != want.name {
				continue
			}
			v, err := hex.DecodeString(strings.TrimSpace(h.Value))
			if err != nil || len(v) != want.n {
				return nil, fmt.Errorf("Invalid hash digest for %s", want.name)
			}
			ms.hashName, ms.newHash, ms.want = want.name, want.h, v
			break
		}
		if ms.newHash != nil {
			break
		}
	}
	if ms.newHash == nil {
		return nil, errors.New("No <verification> with known <hash type=> (sha256 or sha512)")
	}
	type pref struct {
		url string
		p   int
	}
	var ps []pref
	for _, u := range f.URLs {
		if u.Protocol != "http" && u.Protocol != "https" {
			continue
		}
		p, _ := strconv.Atoi(u.Preference)
		ps = append(ps, pref{strings.TrimSpace(u.URL), p})
	}
	if len(ps) == 0 {
		return nil, errors.New("No <url method='http'> elements found")
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].p > ps[j].p })
	for _, p := range ps {
		ms.urls = append(ms.urls, p.url)
	}
	return ms, nil
}

// check verifies a fetched summary against the metalink's size and hash.
func (ms *metalinkSummary) check(b []byte) error {
	if ms.size >= 0 && int64(len(b)) != ms.size {
		return fmt.Errorf("Expected size is %d bytes but content is %d bytes", ms.size, len(b))
	}
	h := ms.newHash()
	h.Write(b)
	if got := h.Sum(nil); !bytes.Equal(got, ms.want) {
		return fmt.Errorf("Expected checksum is %x but actual is %x", ms.want, got)
	}
	return nil
}

// resolveMetalink reads the metalink document, then fetches the summary
// from its URLs in order of preference until one matches its size and
// checksum: that URL's directory is then the repository, and the
// summary is kept, verified, for Get. Called with listMu held.
func (c *Client) resolveMetalink(ctx context.Context) error {
	doc, err := c.readList(ctx, maxMirrorlist)
	if err != nil {
		return err
	}
	ms, err := parseMetalink(doc)
	if err != nil {
		return fmt.Errorf("metalink %s%s: %w", c.list.name, c.listName, err)
	}
	var last error
	for _, u := range ms.urls {
		dir, name := path.Split(u)
		m, err := c.newMirror(dir)
		if err == nil {
			var b []byte
			err = c.fromMirror(ctx, m, name, cond{}, func(r *reply) error {
				defer r.body.Close()
				var err error
				b, err = io.ReadAll(io.LimitReader(r.body, maxSummary+1))
				return err
			})
			if err == nil {
				if err = ms.check(b); err == nil {
					c.mirrors, c.summary = []*mirror{m}, b
					return nil
				}
			}
		}
		last = fmt.Errorf("metalink %s%s: summary from %s: %w", c.list.name, c.listName, u, err)
		if ctx.Err() != nil {
			break
		}
	}
	return last
}

// maxSummary bounds a summary fetched through a metalink.
const maxSummary = 64 << 20
