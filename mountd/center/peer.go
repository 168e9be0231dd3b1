package center

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// peerUID finds the user owning the other end of a loopback TCP
// connection: the kernel's socket table lists it with the addresses
// swapped. Loopback has no credentials to ask for, and a port on
// 127.0.0.1 is open to every user of the machine.
func peerUID(local, remote net.Addr) (uint32, error) {
	l, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return 0, fmt.Errorf("local address %s: %w", local, err)
	}
	r, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return 0, fmt.Errorf("remote address %s: %w", remote, err)
	}
	table := "/proc/net/tcp"
	if r.Addr().Is6() && !r.Addr().Is4In6() {
		table = "/proc/net/tcp6"
	}
	f, err := os.Open(table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 {
			continue
		}
		src, err1 := parseProcAddr(fs[1])
		dst, err2 := parseProcAddr(fs[2])
		if err1 != nil || err2 != nil || src != unmap(r) || dst != unmap(l) {
			continue
		}
		uid, err := strconv.ParseUint(fs[7], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: uid %q: %w", table, fs[7], err)
		}
		return uint32(uid), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no socket %s -> %s", table, remote, local)
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// parseProcAddr reads "0100007F:1F90": the address as the kernel holds it
// (32-bit words in host order, little endian here), the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	b, err := hex.DecodeString(host)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", s)
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}
