package sandbox

import (
	"fmt"
	"sort"
	"strings"

	"arbor/store/keyfile"
)

// BusPolicy is how far an app may reach a name on a bus, as flatpak's
// [Session Bus Policy] and [System Bus Policy] say: each level includes
// the ones below it.
type BusPolicy int

// The levels, weakest first; BusNone in a later layer takes away what a
// lower one gave.
const (
	BusNone BusPolicy = iota
	BusSee
	BusTalk
	BusOwn
)

var busPolicyNames = [...]string{"none", "see", "talk", "own"}

func (p BusPolicy) String() string { return busPolicyNames[p] }

// ParseBusPolicy reads "none", "see", "talk" or "own".
func ParseBusPolicy(s string) (BusPolicy, error) {
	for i, n := range busPolicyNames {
		if s == n {
			return BusPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown bus policy %q: none, see, talk or own", s)
}

// Bus names a bus a policy is for.
type Bus int

// The buses an app's policy may open through the proxy.
const (
	SessionBus Bus = iota
	SystemBus
)

func (b Bus) group() string { return [...]string{"Session Bus Policy", "System Bus Policy"}[b] }

// CheckBusName accepts a well-known bus name, or a prefix of them as
// NAME.*: never a unique name (":1.42"), which a policy cannot pin.
func CheckBusName(name string) error {
	n := strings.TrimSuffix(name, ".*")
	if !wellKnownName(n) {
		return fmt.Errorf("invalid D-Bus name %q", name)
	}
	return nil
}

// wellKnownName follows the D-Bus specification's rules for bus names:
// at most 255 bytes, two or more elements of [A-Za-z0-9_-] separated by
// dots, none empty or starting with a digit.
func wellKnownName(n string) bool {
	if n == "" || len(n) > 255 {
		return false
	}
	parts := strings.Split(n, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || p[0] >= '0' && p[0] <= '9' {
			return false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// SetBusName sets name's policy on bus, as --talk-name, --own-name,
// --no-talk-name and their --system- forms do.
func (c *Context) SetBusName(bus Bus, name string, p BusPolicy) error {
	if err := CheckBusName(name); err != nil {
		return err
	}
	c.busMap(bus)[name] = p
	return nil
}

func (c *Context) busMap(bus Bus) map[string]BusPolicy {
	if bus == SystemBus {
		return c.SystemBus
	}
	return c.SessionBus
}

// parseBusPolicies reads both policy groups. A name that is not a bus
// name refuses the file, as flatpak refuses it; a level flatpak does not
// know drops the line, as flatpak drops it, and says so.
func (c *Context) parseBusPolicies(kf *keyfile.File) error {
	for _, bus := range []Bus{SessionBus, SystemBus} {
		g := bus.group()
		for _, name := range kf.Keys(g) {
			if err := CheckBusName(name); err != nil {
				return fmt.Errorf("[%s]: %w", g, err)
			}
			v, _ := kf.Get(g, name)
			p, err := ParseBusPolicy(strings.TrimSpace(v))
			if err != nil {
				c.Warnings = append(c.Warnings, fmt.Sprintf("[%s] %s=%s: ignored: %v", g, name, v, err))
				continue
			}
			c.busMap(bus)[name] = p
		}
	}
	return nil
}

// BusNames is bus's policy without the names a later layer took away,
// sorted: what the proxy is told.
func (c *Context) BusNames(bus Bus) []BusRule {
	var out []BusRule
	for n, p := range c.busMap(bus) {
		if p > BusNone {
			out = append(out, BusRule{Name: n, Policy: p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BusRule is one name of a bus policy.
type BusRule struct {
	Name   string
	Policy BusPolicy
}

// writeBusPolicies writes both groups; with denials, names set to none
// too, as an override that takes a name away keeps it.
func (c *Context) writeBusPolicies(kf *keyfile.File, denials bool) {
	for _, bus := range []Bus{SessionBus, SystemBus} {
		m := c.busMap(bus)
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if m[n] > BusNone || denials {
				kf.Set(bus.group(), n, m[n].String())
			}
		}
	}
}
