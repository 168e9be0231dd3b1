package fetch

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"arbor/store"
)

func TestSignPolicy(t *testing.T) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := base64.StdEncoding.EncodeToString(pk)
	data := []byte("summary bytes")
	good, err := store.AppendSignatureAt(nil, "ostree.sign.ed25519", ed25519.Sign(sk, data))
	if err != nil {
		t.Fatal(err)
	}
	otherPK, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name      string
		settings  map[string]string
		sig       []byte
		summary   []byte
		wantNil   bool   // no policy
		wantLoad  string // error loading the policy
		wantCheck string // error checking; "" passes
	}{
		{name: "off", settings: map[string]string{}, wantNil: true},
		{name: "good", settings: map[string]string{"sign-verify-summary": "true", "verification-ed25519-key": pub}, sig: good, summary: data},
		{name: "explicit type", settings: map[string]string{"sign-verify-summary": "ed25519", "verification-ed25519-key": pub}, sig: good, summary: data},
		{name: "other key", settings: map[string]string{"sign-verify-summary": "true", "verification-ed25519-key": base64.StdEncoding.EncodeToString(otherPK)}, sig: good, summary: data, wantCheck: "couldn't be verified with: key"},
		{name: "no sig", settings: map[string]string{"sign-verify-summary": "true", "verification-ed25519-key": pub}, summary: data, wantCheck: "No signatures found"},
		{name: "garbage sig", settings: map[string]string{"sign-verify-summary": "true", "verification-ed25519-key": pub}, sig: []byte("invalid\n"), summary: data, wantCheck: "No signatures found"},
		{name: "no summary", settings: map[string]string{"sign-verify-summary": "true", "verification-ed25519-key": pub}, wantCheck: "no summary"},
		{name: "type without keys", settings: map[string]string{"sign-verify-summary": "dummy"}, wantLoad: "No keys found for required signapi type dummy"},
		{name: "unknown type", settings: map[string]string{"sign-verify-summary": "nosuchsystem"}, wantLoad: "not implemented"},
		{name: "missing key file", settings: map[string]string{"sign-verify-summary": "true", "verification-ed25519-file": "/nonexistent/keys"}, wantLoad: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newClient(t, "http://127.0.0.1:1/")
			for k, v := range tt.settings {
				r.Config().Set(group("origin"), k, v)
			}
			sp, err := loadSignPolicyAt(r, "origin", "sign-verify-summary")
			if tt.wantLoad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantLoad) {
					t.Fatalf("load error = %v, want one saying %q", err, tt.wantLoad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (sp == nil) != tt.wantNil {
				t.Fatalf("policy = %v, want nil %v", sp, tt.wantNil)
			}
			if sp == nil {
				return
			}
			err = sp.verifySummary(tt.summary, tt.sig)
			if tt.wantCheck == "" {
				if err != nil {
					t.Fatalf("verifySummary: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantCheck) {
				t.Fatalf("verifySummary error = %v, want one saying %q", err, tt.wantCheck)
			}
		})
	}
}

func TestSignVerifies(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "true": true, "ed25519": true, "dummy,ed25519": true, "0": false} {
		r := newClient(t, "http://127.0.0.1:1/")
		r.Config().Set(group("origin"), "sign-verify", v)
		if got := signVerifies(r, "origin"); got != want {
			t.Errorf("sign-verify=%q: signVerifies = %v, want %v", v, got, want)
		}
	}
}
