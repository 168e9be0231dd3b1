package fetch

import (
	"context"
	"fmt"
	"net/url"
	"path"

	"arbor/fetch/httpc"
)

// GetURL fetches one small file named by an http(s) or file URL, such as
// the .flatpakrepo a .flatpakref points at, with a pull's retries and
// timeouts and at most max bytes.
func GetURL(ctx context.Context, raw string, max int64) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", raw, err)
	}
	dir, file := path.Split(u.Path)
	if file == "" {
		return nil, fmt.Errorf("%s: the URL names no file", u.Redacted())
	}
	base := *u
	base.Path, base.RawPath = dir, ""
	c, err := httpc.New(httpc.Options{Mirrors: []string{base.String()}})
	if err != nil {
		return nil, err
	}
	defer c.CloseIdleConnections()
	b, err := c.Get(ctx, file, max)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.Redacted(), err)
	}
	return b, nil
}
