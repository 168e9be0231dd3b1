package httpc

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Cookie is one cookie a remote's requests carry, as a cookie file
// lists it: sent to Domain's host, on paths below Path.
type Cookie struct {
	Domain, Path, Name, Value string
}

// matches says whether c goes with requests to host below basePath.
func (c Cookie) matches(host, basePath string) bool {
	d := strings.TrimPrefix(strings.ToLower(c.Domain), ".")
	h := strings.ToLower(host)
	if d != h && !strings.HasSuffix(h, "."+d) {
		return false
	}
	p := c.Path
	if p == "" {
		p = "/"
	}
	return strings.HasPrefix(basePath, p) || strings.HasPrefix(basePath, strings.TrimSuffix(p, "/")+"/")
}

// checkHeader refuses a header a request could not carry intact: a name
// that is not an HTTP token, or a line break that would start a header
// of its own.
func checkHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("httpc: empty header name")
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return fmt.Errorf("httpc: header name %q is not a token", name)
		}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("httpc: header %s: value has a line break", name)
	}
	return nil
}

// mirrorHeader is the extra header every request to m carries: the
// caller's, and the cookies for m's host and path.
func mirrorHeader(m *mirror, extra http.Header, cookies []Cookie) (http.Header, error) {
	h := http.Header{}
	for k, vs := range extra {
		for _, v := range vs {
			if err := checkHeader(k, v); err != nil {
				return nil, err
			}
			h.Add(k, v)
		}
	}
	var jar []string
	for _, c := range cookies {
		if err := checkHeader("Cookie", c.Name+c.Value); err != nil {
			return nil, err
		}
		if strings.ContainsAny(c.Name, "=; ") || strings.ContainsAny(c.Value, "; ") {
			return nil, fmt.Errorf("httpc: cookie %q: name or value has a separator", c.Name)
		}
		if m.u.Host != "" && c.matches(m.u.Hostname(), m.u.Path) {
			jar = append(jar, c.Name+"="+c.Value)
		}
	}
	if len(jar) > 0 {
		h.Set("Cookie", strings.Join(jar, "; "))
	}
	return h, nil
}

// headerLines renders h as the lean path writes it: each line preceded
// by CRLF, names in a stable order.
func headerLines(h http.Header) string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		for _, v := range h[k] {
			b.WriteString("\r\n")
			b.WriteString(http.CanonicalHeaderKey(k))
			b.WriteString(": ")
			b.WriteString(v)
		}
	}
	return b.String()
}
