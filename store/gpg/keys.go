package gpg

import (
	"crypto/sha1"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// KeyInfo describes one primary key of a keyring, as a key listing
// shows it.
type KeyInfo struct {
	Fingerprint string // upper case hex
	Created     time.Time
	Expires     time.Time // zero: never
	Revoked     bool
	UIDs        []UIDInfo
	Subkeys     []SubkeyInfo
}

// UIDInfo is one user ID of a key.
type UIDInfo struct {
	Text    string // as the key holds it: "Name (comment) <email>"
	Email   string
	Revoked bool
}

// SubkeyInfo is one subkey of a key.
type SubkeyInfo struct {
	Fingerprint string
	Created     time.Time
	Expires     time.Time
	Revoked     bool
}

// Keys describes the keyring's keys, in keyring order; user IDs are in
// name order. A key revoked revokes its user IDs and subkeys too.
func (k *Keyring) Keys() []KeyInfo {
	if k == nil {
		return nil
	}
	now := time.Now()
	var out []KeyInfo
	for _, kk := range k.keys {
		e := kk.entity
		self, _ := e.PrimarySelfSignature()
		ki := KeyInfo{
			Fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint),
			Created:     e.PrimaryKey.CreationTime,
			Expires:     expiry(e.PrimaryKey, self),
			Revoked:     e.Revoked(now),
		}
		names := make([]string, 0, len(e.Identities))
		for n := range e.Identities {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			id := e.Identities[n]
			u := UIDInfo{Text: n, Revoked: ki.Revoked || id.Revoked(now)}
			if id.UserId != nil {
				u.Email = id.UserId.Email
			}
			ki.UIDs = append(ki.UIDs, u)
		}
		for _, sk := range e.Subkeys {
			ki.Subkeys = append(ki.Subkeys, SubkeyInfo{
				Fingerprint: fmt.Sprintf("%X", sk.PublicKey.Fingerprint),
				Created:     sk.PublicKey.CreationTime,
				Expires:     expiry(sk.PublicKey, sk.Sig),
				Revoked:     ki.Revoked || sk.Revoked(now),
			})
		}
		out = append(out, ki)
	}
	return out
}

// zbase32 is the alphabet of z-base-32, which the Web Key Directory names
// keys in.
const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// WKDURLs are the Web Key Directory addresses a key of this email
// address is published at (advanced, then direct method), or empty
// strings for an address without a local part and a domain.
func WKDURLs(email string) (advanced, direct string) {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" {
		return "", ""
	}
	domain = strings.ToLower(domain)
	sum := sha1.Sum([]byte(strings.ToLower(local)))
	hash := zbase32Encode(sum[:])
	q := url.QueryEscape(local)
	advanced = fmt.Sprintf("https://openpgpkey.%s/.well-known/openpgpkey/%s/hu/%s?l=%s", domain, domain, hash, q)
	direct = fmt.Sprintf("https://%s/.well-known/openpgpkey/hu/%s?l=%s", domain, hash, q)
	return advanced, direct
}

func zbase32Encode(b []byte) string {
	var out strings.Builder
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			out.WriteByte(zbase32[(acc>>(bits-5))&31])
			bits -= 5
		}
	}
	if bits > 0 {
		out.WriteByte(zbase32[(acc<<(5-bits))&31])
	}
	return out.String()
}
