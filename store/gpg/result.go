package gpg

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SigResult is what is known of one signature after checking it against a
// keyring: the facts ostree's show and admin status print for each.
type SigResult struct {
	Valid      bool // made by a trusted key, data matches, nothing expired or revoked
	KeyMissing bool // no key in the keyring made it
	SigExpired bool
	KeyExpired bool // the signing key (or subkey) has expired
	KeyRevoked bool
	// Fingerprint is the signing key's (a subkey's when a subkey signed), or
	// the issuer's key ID when the key is missing and the signature names no
	// fingerprint; Primary is its primary key's fingerprint.
	Fingerprint, Primary string
	Created              time.Time
	SigExpires           time.Time // zero: never
	KeyExpires           time.Time // of the signing key; zero: never
	PrimaryExpires       time.Time // of the primary key; zero: never
	Algo                 string    // public key algorithm, as gpg names it
	UserName, UserEmail  string    // the key's primary user ID
}

// KeyID is the last 16 hex digits of the fingerprint.
func (s SigResult) KeyID() string { return lastID(s.Fingerprint) }

func lastID(fpr string) string {
	if len(fpr) > 16 {
		return fpr[len(fpr)-16:]
	}
	return fpr
}

// Check describes every signature packet in sigs over data, valid or not,
// in order; a blob that does not parse is left out.
func (k *Keyring) Check(data []byte, sigs [][]byte) []SigResult {
	now := time.Now()
	var out []SigResult
	for _, blob := range sigs {
		pr := packet.NewReader(bytes.NewReader(blob))
		for {
			p, err := pr.Next()
			if err == io.EOF || err != nil {
				break
			}
			sig, ok := p.(*packet.Signature)
			if !ok {
				break
			}
			out = append(out, k.result(sig, data, now))
		}
	}
	return out
}

func (k *Keyring) result(sig *packet.Signature, data []byte, now time.Time) SigResult {
	res := SigResult{Created: sig.CreationTime, Algo: algoName(sig.PubKeyAlgo)}
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs > 0 {
		res.SigExpires = sig.CreationTime.Add(time.Duration(*sig.SigLifetimeSecs) * time.Second)
		res.SigExpired = !now.Before(res.SigExpires)
	}
	switch {
	case sig.IssuerFingerprint != nil:
		res.Fingerprint = fmt.Sprintf("%X", sig.IssuerFingerprint)
	case sig.IssuerKeyId != nil:
		res.Fingerprint = fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	var keys []openpgp.Key
	if sig.IssuerKeyId != nil || sig.IssuerFingerprint != nil {
		if sig.IssuerKeyId == nil {
			id := uint64(0)
			if n := len(sig.IssuerFingerprint); n >= 8 {
				for _, b := range sig.IssuerFingerprint[n-8:] {
					id = id<<8 | uint64(b)
				}
			}
			sig.IssuerKeyId = &id
		}
		keys = k.lookup(sig)
	}
	if len(keys) == 0 {
		res.KeyMissing = true
		return res
	}
	kk := keys[0]
	e := kk.Entity
	res.Fingerprint = fmt.Sprintf("%X", kk.PublicKey.Fingerprint)
	res.Primary = fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	if id := e.PrimaryIdentity(); id != nil && id.UserId != nil {
		res.UserName, res.UserEmail = id.UserId.Name, id.UserId.Email
	}
	primarySig, _ := e.PrimarySelfSignature()
	res.PrimaryExpires = expiry(e.PrimaryKey, primarySig)
	res.KeyExpires = expiry(kk.PublicKey, kk.SelfSignature)
	res.KeyExpired = !res.KeyExpires.IsZero() && !now.Before(res.KeyExpires)
	res.KeyRevoked = e.Revoked(now) || (kk.PublicKey != e.PrimaryKey && kk.Revoked(now))
	_, err := k.check(sig, data, now)
	res.Valid = err == nil
	return res
}

// expiry is when a key stops being valid by its self-signature; zero for
// never.
func expiry(pk *packet.PublicKey, self *packet.Signature) time.Time {
	if self == nil || self.KeyLifetimeSecs == nil || *self.KeyLifetimeSecs == 0 {
		return time.Time{}
	}
	return pk.CreationTime.Add(time.Duration(*self.KeyLifetimeSecs) * time.Second)
}

func algoName(a packet.PublicKeyAlgorithm) string {
	switch a {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoRSAEncryptOnly:
		return "RSA"
	case packet.PubKeyAlgoDSA:
		return "DSA"
	case packet.PubKeyAlgoECDSA:
		return "ECDSA"
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519, packet.PubKeyAlgoEd448:
		return "EdDSA"
	case packet.PubKeyAlgoElGamal:
		return "ELG"
	}
	return fmt.Sprintf("algorithm %d", a)
}

// dateFormat is the C locale's %c, the form ostree prints dates in.
const dateFormat = "Mon Jan _2 15:04:05 2006"

// Describe writes the signature as ostree describes one, each line
// starting with prefix; dates are in the local time zone. Text from the
// key (its user ID) is the caller's to escape.
func (s SigResult) Describe(prefix string) string {
	var b strings.Builder
	line := func(format string, a ...any) {
		b.WriteString(prefix)
		fmt.Fprintf(&b, format, a...)
		b.WriteByte('\n')
	}
	date := func(t time.Time) string { return t.Local().Format(dateFormat) }
	line("Signature made %s using %s key ID %s", date(s.Created), s.Algo, s.KeyID())
	if s.KeyMissing {
		line("Can't check signature: public key not found")
		return b.String()
	}
	verdict := "Good"
	if !s.Valid {
		verdict = "BAD"
	}
	line("%s signature from \"%s <%s>\"", verdict, s.UserName, s.UserEmail)
	if s.Fingerprint != s.Primary {
		line("Primary key ID %s", lastID(s.Primary))
	}
	now := time.Now()
	if !s.SigExpires.IsZero() {
		if s.SigExpired {
			line("Signature expired %s", date(s.SigExpires))
		} else {
			line("Signature expires %s", date(s.SigExpires))
		}
	}
	if !s.KeyExpires.IsZero() {
		if s.KeyExpired {
			line("Key expired %s", date(s.KeyExpires))
		} else {
			line("Key expires %s", date(s.KeyExpires))
		}
	}
	if s.Fingerprint != s.Primary && !s.PrimaryExpires.IsZero() {
		if now.Before(s.PrimaryExpires) {
			line("Primary key expires %s", date(s.PrimaryExpires))
		} else {
			line("Primary key expired %s", date(s.PrimaryExpires))
		}
	}
	if s.KeyRevoked {
		line("Key revoked")
	}
	return b.String()
}

// Issuers are the key IDs (16 upper case hex digits) and, where the
// signature names them, the fingerprints of the keys that made the
// signature packets in blob.
func Issuers(blob []byte) []string {
	var out []string
	pr := packet.NewReader(bytes.NewReader(blob))
	for {
		p, err := pr.Next()
		if err != nil {
			return out
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return out
		}
		if sig.IssuerKeyId != nil {
			out = append(out, fmt.Sprintf("%016X", *sig.IssuerKeyId))
		}
		if sig.IssuerFingerprint != nil {
			out = append(out, fmt.Sprintf("%X", sig.IssuerFingerprint))
		}
	}
}

// MadeBy reports whether blob holds a signature by the key that id (a
// key ID, short or long, or a fingerprint) names.
func MadeBy(blob []byte, id string) bool {
	want := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(id, "0x"), "0X"))
	if len(want) < 8 {
		return false
	}
	for _, is := range Issuers(blob) {
		if strings.HasSuffix(is, want) || (len(want) > len(is) && strings.HasSuffix(want, is)) {
			return true
		}
	}
	return false
}
