package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/refs"
)

// CookiesPath is the file holding a remote's cookies, in the cookie-file
// format curl and ostree read: one cookie a line, seven tab-separated
// fields (domain, subdomains, path, secure, expiry, name, value).
func CookiesPath(r *store.Repo, remote string) string {
	return filepath.Join(r.Path(), remote+".cookies.txt")
}

// StoredCookie is one line of a cookie file.
type StoredCookie struct {
	httpc.Cookie
	Secure  bool
	Expires string // seconds since the epoch; "0" for a session cookie
}

// parseCookies reads a cookie file; comments and blank lines are skipped,
// as is a line that does not have the seven fields.
func parseCookies(b []byte) []StoredCookie {
	var out []StoredCookie
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		// curl marks HttpOnly cookies with this prefix on a line that is
		// otherwise a cookie's.
		line = strings.TrimPrefix(line, "#HttpOnly_")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			continue
		}
		out = append(out, StoredCookie{Cookie: httpc.Cookie{Domain: f[0], Path: f[2], Name: f[5], Value: f[6]},
			Secure: f[3] == "TRUE", Expires: f[4]})
	}
	return out
}

func formatCookies(cs []StoredCookie) []byte {
	var b bytes.Buffer
	b.WriteString("# Netscape HTTP Cookie File\n")
	for _, c := range cs {
		sub, sec := "FALSE", "FALSE"
		if strings.HasPrefix(c.Domain, ".") {
			sub = "TRUE"
		}
		if c.Secure {
			sec = "TRUE"
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Domain, sub, c.Path, sec, c.Expires, c.Name, c.Value)
	}
	return b.Bytes()
}

// ListCookies reads a remote's cookies; none when it has no cookie file.
func ListCookies(r *store.Repo, remote string) ([]StoredCookie, error) {
	if err := refs.ValidateRemote(remote); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(CookiesPath(r, remote))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("remote %s cookies: %w", remote, err)
	}
	return parseCookies(b), nil
}

func checkRemote(r *store.Repo, remote string) error {
	if err := refs.ValidateRemote(remote); err != nil {
		return err
	}
	if !r.Config().HasGroup(group(remote)) {
		return fmt.Errorf("remote %s: %w", remote, ErrNoRemote)
	}
	return nil
}

// AddCookie stores a cookie for a remote's requests to domain, below
// path; one of the same domain, path and name is replaced.
func AddCookie(r *store.Repo, remote, domain, path, name, value string) error {
	if err := checkRemote(r, remote); err != nil {
		return err
	}
	for _, f := range []string{domain, path, name, value} {
		if strings.ContainsAny(f, "\t\r\n") {
			return fmt.Errorf("remote %s cookie %q: fields may not hold tabs or line breaks", remote, name)
		}
	}
	if domain == "" || path == "" || name == "" {
		return fmt.Errorf("remote %s cookie: domain, path and name must not be empty", remote)
	}
	cs, err := ListCookies(r, remote)
	if err != nil {
		return err
	}
	nc := StoredCookie{Cookie: httpc.Cookie{Domain: domain, Path: path, Name: name, Value: value}, Expires: "0"}
	kept := cs[:0]
	for _, c := range cs {
		if c.Domain != domain || c.Path != path || c.Name != name {
			kept = append(kept, c)
		}
	}
	return writeCookies(r, remote, append(kept, nc))
}

// DeleteCookie removes a remote's cookie of that domain, path and name.
func DeleteCookie(r *store.Repo, remote, domain, path, name string) error {
	if err := checkRemote(r, remote); err != nil {
		return err
	}
	cs, err := ListCookies(r, remote)
	if err != nil {
		return err
	}
	kept := cs[:0]
	for _, c := range cs {
		if c.Domain != domain || c.Path != path || c.Name != name {
			kept = append(kept, c)
		}
	}
	if len(kept) == len(cs) {
		return fmt.Errorf("Cookie not found")
	}
	return writeCookies(r, remote, kept)
}

func writeCookies(r *store.Repo, remote string, cs []StoredCookie) error {
	if err := r.WriteFile(filepath.Base(CookiesPath(r, remote)), formatCookies(cs)); err != nil {
		return fmt.Errorf("remote %s cookies: %w", remote, err)
	}
	return nil
}
