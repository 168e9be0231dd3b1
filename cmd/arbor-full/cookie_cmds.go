package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/fetch"
	"arbor/store"
)

// cookieCmds are `remote add-cookie`, `list-cookies` and `delete-cookie`:
// cookies a remote's server wants on every request.
func (a *app) cookieCmds() []*cobra.Command {
	add := &cobra.Command{
		Use:     "add-cookie NAME DOMAIN PATH COOKIE_NAME VALUE",
		Short:   "Send a cookie with the remote's requests",
		Example: `  arbor --repo=repo remote add-cookie origin example.com / session abc123`,
		Args:    cobra.ExactArgs(5),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			return fetch.AddCookie(r, args[0], args[1], args[2], args[3], args[4])
		}),
	}
	del := &cobra.Command{
		Use:     "delete-cookie NAME DOMAIN PATH COOKIE_NAME",
		Short:   "Stop sending a cookie with the remote's requests",
		Example: `  arbor --repo=repo remote delete-cookie origin example.com / session`,
		// A value after the name is taken, and not needed to find the cookie.
		Args: cobra.RangeArgs(4, 5),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			return fetch.DeleteCookie(r, args[0], args[1], args[2], args[3])
		}),
	}
	list := &cobra.Command{
		Use:     "list-cookies NAME",
		Short:   "Print the cookies sent with the remote's requests",
		Example: `  arbor --repo=repo remote list-cookies origin`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			cs, err := fetch.ListCookies(r, args[0])
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintf(a.Stdout, "--\nDomain: %s\nPath: %s\nName: %s\nSecure: %s\nExpires: %s\nValue: %s\n",
					termtext.Line(c.Domain), termtext.Line(c.Path), termtext.Line(c.Name), yesNo(c.Secure),
					termtext.Line(c.Expires), termtext.Line(c.Value))
			}
			return nil
		}),
	}
	return []*cobra.Command{add, del, list}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// httpFlags are a pull's --url, --http-header and --append-user-agent.
type httpFlags struct {
	headers  []string
	appendUA string
}

func (h *httpFlags) register(c *cobra.Command, opts *fetch.PullOptions) {
	f := c.Flags()
	f.StringVar(&opts.URL, "url", "", "fetch from this URL instead of the remote's")
	f.StringArrayVar(&h.headers, "http-header", nil, "send this header, as NAME=VALUE, with every request")
	f.StringVar(&h.appendUA, "append-user-agent", "", "add this product to the User-Agent header")
	f.StringVar(&opts.CacheDir, "cache-dir", "", "keep the summary cache in this directory")
	f.StringVarP(&opts.LocalCache, "localcache-repo", "L", "", "copy objects this repository has instead of fetching them")
}

// apply puts the parsed flags into opts.
func (h *httpFlags) apply(opts *fetch.PullOptions) error {
	hdr, err := parseHeaders(h.headers)
	if err != nil {
		return err
	}
	opts.Header = hdr
	opts.UserAgent = userAgent(h.appendUA)
	// ostree's test suite names failure paths to make loud; arbor has
	// this one (a kept summary its signature no longer verifies).
	for _, name := range strings.Split(os.Getenv("OSTREE_REPO_TEST_ERROR"), ",") {
		if name == "invalid-cache" {
			opts.FailOnInvalidCache = true
		}
	}
	return nil
}

func parseHeaders(kvs []string) (http.Header, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("Missing '=' in --http-header %q", kv)
		}
		h.Add(k, v)
	}
	return h, nil
}

// userAgent is what arbor's pulls call themselves: the library version
// it is compatible with (as --version says), then what the caller adds.
func userAgent(extra string) string {
	ua := "libostree/" + ostreeVersion
	if extra != "" {
		ua += " " + extra
	}
	return ua
}
