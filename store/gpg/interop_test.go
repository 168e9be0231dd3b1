package gpg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"arbor/store/gvariant"
	"arbor/store/object"
	"arbor/tests/testutil"
)

// gpgKey is a key made by gpg: its fingerprint and the ID of the key that
// makes its signatures (a signing subkey if it has one).
type gpgKey struct {
	fpr, signID string
}

// gpgHome makes a GnuPG homedir with a short path, as gpg-agent's socket
// path must fit in sun_path, and stops its agent at the end.
func gpgHome(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ag")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", dir, "--kill", "gpg-agent").Run()
		os.RemoveAll(dir)
	})
	return dir
}

// run runs a command and returns its stdout, failing t on error.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runErr(name string, args ...string) ([]byte, error) {
	var o, e bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		return o.Bytes(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, e.String())
	}
	return o.Bytes(), nil
}

// genKey makes a key with gpg, optionally adding a signing subkey.
func genKey(t *testing.T, home, uid, algo, passphrase, subAlgo string) gpgKey {
	t.Helper()
	gpg := []string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase}
	run(t, "gpg", append(gpg, "--quick-gen-key", uid, algo, "sign", "never")...)
	var k gpgKey
	lines := func() []string {
		return strings.Split(string(run(t, "gpg", "--homedir", home, "--with-colons", "--list-keys", "="+uid)), "\n")
	}
	for _, l := range lines() {
		f := strings.Split(l, ":")
		switch {
		case f[0] == "pub":
			k.signID = f[4]
		case f[0] == "fpr" && k.fpr == "":
			k.fpr = f[9]
		}
	}
	if subAlgo != "" {
		run(t, "gpg", append(gpg, "--quick-add-key", k.fpr, subAlgo, "sign", "never")...)
		for _, l := range lines() {
			if f := strings.Split(l, ":"); f[0] == "sub" && strings.Contains(f[11], "s") {
				k.signID = f[4]
			}
		}
	}
	if k.fpr == "" || len(k.signID) != 16 {
		t.Fatalf("could not read key %s from gpg: %+v", uid, k)
	}
	return k
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGnuPGInterop(t *testing.T) {
	testutil.NeedTool(t, "gpg")
	testutil.NeedTool(t, "gpgv")
	testutil.NeedTool(t, "gpgconf")
	home := gpgHome(t)
	work := t.TempDir()
	ed := genKey(t, home, "Arbor Test <test@example.com>", "ed25519", "", "")
	rsa := genKey(t, home, "Arbor RSA <rsa@example.com>", "rsa3072", "", "")
	sub := genKey(t, home, "Arbor Sub <sub@example.com>", "ed25519", "", "ed25519")
	prot := genKey(t, home, "Arbor Locked <locked@example.com>", "ed25519", "secret", "")
	keys := []struct {
		name string
		key  gpgKey
	}{{"ed25519", ed}, {"rsa3072", rsa}, {"signing subkey", sub}}

	export := func(armor bool, ks ...gpgKey) []byte {
		args := []string{"--homedir", home, "--export"}
		if armor {
			args = append(args, "--armor")
		}
		for _, k := range ks {
			args = append(args, k.fpr)
		}
		return run(t, "gpg", args...)
	}
	all, err := ParseKeyring(export(false, ed, rsa, sub))
	if err != nil {
		t.Fatalf("parse gpg --export: %v", err)
	}
	// gpgv reads our Export, checking that it is a keyring GnuPG accepts.
	allFile := writeFile(t, filepath.Join(work, "all.gpg"), all.Export())
	data := []byte("ostree commit\x00\xff\r\nbytes")
	dataFile := writeFile(t, filepath.Join(work, "data"), data)

	gpgSigs := map[string][]byte{}
	t.Run("gpg signs, Verify checks", func(t *testing.T) {
		for _, tc := range keys {
			sigFile := filepath.Join(work, tc.name+".gpgsig")
			run(t, "gpg", "--homedir", home, "--batch", "--yes", "-u", tc.key.fpr, "-o", sigFile, "--detach-sign", dataFile)
			sig, err := os.ReadFile(sigFile)
			if err != nil {
				t.Fatal(err)
			}
			gpgSigs[tc.name] = sig
			ids, err := all.Verify(data, [][]byte{sig})
			if err != nil || !reflect.DeepEqual(ids, []string{tc.key.signID}) {
				t.Errorf("%s: Verify = %v, %v; want [%s]", tc.name, ids, err, tc.key.signID)
			}
		}
	})

	t.Run("Signer signs, gpg checks", func(t *testing.T) {
		for _, tc := range keys {
			for _, id := range []string{tc.key.fpr, strings.ToLower(tc.key.fpr[24:]), "0x" + tc.key.fpr[32:]} {
				s, err := LoadSigner(home, id)
				if err != nil {
					t.Fatalf("%s: LoadSigner(%s): %v", tc.name, id, err)
				}
				if s.KeyID() != tc.key.signID {
					t.Errorf("%s: KeyID = %s, want %s", tc.name, s.KeyID(), tc.key.signID)
				}
			}
			s, err := LoadSigner(home, tc.key.fpr)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := s.Sign(data)
			if err != nil {
				t.Fatalf("%s: Sign: %v", tc.name, err)
			}
			checkSigPacket(t, sig)
			sigFile := writeFile(t, filepath.Join(work, tc.name+".sig"), sig)
			run(t, "gpgv", "--keyring", allFile, sigFile, dataFile)
			status := run(t, "gpg", "--homedir", home, "--status-fd", "1", "--verify", sigFile, dataFile)
			if !bytes.Contains(status, []byte("[GNUPG:] GOODSIG "+tc.key.signID)) {
				t.Errorf("%s: gpg --verify status lacks GOODSIG %s:\n%s", tc.name, tc.key.signID, status)
			}
			if _, err := runErr("gpgv", "--keyring", allFile, sigFile, writeFile(t, filepath.Join(work, "other"), []byte("other"))); err == nil {
				t.Errorf("%s: gpgv accepted the signature over other data", tc.name)
			}
			if ids, err := all.Verify(data, [][]byte{sig}); err != nil || !reflect.DeepEqual(ids, []string{tc.key.signID}) {
				t.Errorf("%s: Verify = %v, %v; want [%s]", tc.name, ids, err, tc.key.signID)
			}
		}
	})

	t.Run("stale secring.gpg", func(t *testing.T) {
		// A pre-2.1 secring.gpg left beside private-keys-v1.d must not
		// shadow the agent's key: here its copy is locked.
		el, err := readEntities(run(t, "gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback",
			"--passphrase", "", "--export-secret-keys", ed.fpr))
		if err != nil {
			t.Fatal(err)
		}
		if err := el[0].EncryptPrivateKeys([]byte("stale"), nil); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := el[0].SerializePrivateWithoutSigning(&b, nil); err != nil {
			t.Fatal(err)
		}
		secring := writeFile(t, filepath.Join(home, "secring.gpg"), b.Bytes())
		defer os.Remove(secring)
		s, err := LoadSigner(home, ed.fpr)
		if err != nil {
			t.Fatalf("LoadSigner: %v", err)
		}
		if s.KeyID() != ed.signID {
			t.Fatalf("KeyID = %s, want %s", s.KeyID(), ed.signID)
		}
	})

	t.Run("failures", func(t *testing.T) {
		edOnly, err := ParseKeyring(export(false, ed))
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			ring    *Keyring
			data    []byte
			sigs    [][]byte
			wantErr error
			errHas  string
		}{
			{"tampered", all, append([]byte{'x'}, data...), [][]byte{gpgSigs["ed25519"]}, ErrBadSignature, ed.signID},
			{"other key", edOnly, data, [][]byte{gpgSigs["rsa3072"]}, ErrUnknownKey, rsa.signID},
			{"other subkey", edOnly, data, [][]byte{gpgSigs["signing subkey"]}, ErrUnknownKey, sub.signID},
			{"no signatures", all, data, nil, ErrNoSignatures, ""},
		}
		for _, tc := range tests {
			_, err := tc.ring.Verify(tc.data, tc.sigs)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(fmt.Sprint(err), tc.errHas) {
				t.Errorf("%s: Verify error = %v, want %v naming %q", tc.name, err, tc.wantErr, tc.errHas)
			}
		}
	})

	t.Run("keyrings", func(t *testing.T) {
		dir := filepath.Join(work, "keys.d")
		writeFile(t, filepath.Join(dir, "ed.gpg"), export(false, ed))
		writeFile(t, filepath.Join(dir, "rsa.asc"), export(true, rsa))
		writeFile(t, filepath.Join(dir, "sub.asc"), export(true, sub))
		tests := []struct {
			name  string
			paths []string
		}{
			{"binary", []string{writeFile(t, filepath.Join(work, "bin.gpg"), export(false, ed, rsa, sub))}},
			{"armored", []string{writeFile(t, filepath.Join(work, "arm.asc"), export(true, ed, rsa, sub))}},
			{"directory", []string{dir}},
			{"exported", []string{allFile}},
		}
		for _, tc := range tests {
			k, err := LoadKeyring(tc.paths...)
			if err != nil {
				t.Fatalf("%s: LoadKeyring: %v", tc.name, err)
			}
			if k.Len() != 3 {
				t.Errorf("%s: Len = %d, want 3", tc.name, k.Len())
			}
			for name, sig := range gpgSigs {
				if _, err := k.Verify(data, [][]byte{sig}); err != nil {
					t.Errorf("%s: Verify %s signature: %v", tc.name, name, err)
				}
			}
		}
	})

	t.Run("passphrase-protected key", func(t *testing.T) {
		// A fresh agent has no passphrase cached from key generation.
		run(t, "gpgconf", "--homedir", home, "--kill", "gpg-agent")
		_, err := LoadSigner(home, prot.fpr)
		if !errors.Is(err, ErrProtectedKey) {
			t.Fatalf("LoadSigner of protected key: %v, want ErrProtectedKey", err)
		}
		t.Log(err)
		if _, err := LoadSigner(home, "0123456789ABCDEF"); !errors.Is(err, ErrNoSecretKey) {
			t.Fatalf("LoadSigner of absent key: %v, want ErrNoSecretKey", err)
		}
	})

	t.Run("ostree", func(t *testing.T) {
		testOstree(t, home, work, all, ed, rsa, sub)
	})
}

// readSigs decodes the ostree.gpgsigs of a commitmeta or summary.sig file.
func readSigs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := object.ParseVarDict(b)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	v, ok := object.Lookup(meta, "ostree.gpgsigs")
	if !ok {
		t.Fatalf("%s has no ostree.gpgsigs", path)
	}
	var sigs [][]byte
	for _, s := range v.Value.([]any) {
		sigs = append(sigs, s.([]byte))
	}
	return sigs
}

func testOstree(t *testing.T, home, work string, all *Keyring, ed, rsa, sub gpgKey) {
	testutil.NeedTool(t, "ostree")
	repo := filepath.Join(work, "repo")
	writeFile(t, filepath.Join(work, "tree", "hello"), []byte("hello\n"))
	run(t, "ostree", "--repo="+repo, "init", "--mode=archive")
	commit := func(subject string) (string, string) {
		c := strings.TrimSpace(string(run(t, "ostree", "--repo="+repo, "commit", "-b", "main",
			"--tree=dir="+filepath.Join(work, "tree"), "-s", subject, "--no-xattrs")))
		return c, filepath.Join(repo, "objects", c[:2], c[2:])
	}

	// ostree signs; Verify checks the signatures over the .commit bytes.
	c1, obj1 := commit("one")
	run(t, "ostree", "--repo="+repo, "gpg-sign", "--gpg-homedir="+home, c1, ed.fpr, rsa.fpr)
	commitBytes, err := os.ReadFile(obj1 + ".commit")
	if err != nil {
		t.Fatal(err)
	}
	sigs := readSigs(t, obj1+".commitmeta")
	ids, err := all.Verify(commitBytes, sigs)
	if err != nil || !reflect.DeepEqual(ids, []string{ed.signID, rsa.signID}) {
		t.Fatalf("Verify ostree's signatures = %v, %v; want [%s %s]", ids, err, ed.signID, rsa.signID)
	}
	rsaOnly, err := ParseKeyring(run(t, "gpg", "--homedir", home, "--export", rsa.fpr))
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := rsaOnly.Verify(commitBytes, sigs); err != nil || !reflect.DeepEqual(ids, []string{rsa.signID}) {
		t.Fatalf("Verify with one of two keys = %v, %v; want [%s]", ids, err, rsa.signID)
	}

	// Signer signs; gpg, ostree show and ostree pull read the result.
	c2, obj2 := commit("two")
	commitBytes, err = os.ReadFile(obj2 + ".commit")
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(home, sub.fpr)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(commitBytes)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := object.MarshalVarDict([]object.MetaEntry{{Key: "ostree.gpgsigs",
		Value: gvariant.Variant{Type: gvariant.MustType("aay"), Value: []any{sig}}}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, obj2+".commitmeta", meta)
	back := readSigs(t, obj2+".commitmeta")
	if len(back) != 1 || !bytes.Equal(back[0], sig) {
		t.Fatalf("commitmeta round trip changed the signatures")
	}
	sigFile := writeFile(t, filepath.Join(work, "c2.sig"), back[0])
	run(t, "gpg", "--homedir", home, "--verify", sigFile, obj2+".commit")
	if ids, err := all.Verify(commitBytes, back); err != nil || !reflect.DeepEqual(ids, []string{sub.signID}) {
		t.Fatalf("Verify Signer's commit signature = %v, %v", ids, err)
	}
	show := run(t, "ostree", "--repo="+repo, "show", c2)
	if !bytes.Contains(show, []byte("Found 1 signature")) || !bytes.Contains(show, []byte(sub.signID)) {
		t.Fatalf("ostree show does not list the signature by %s:\n%s", sub.signID, show)
	}

	// A pull with gpg-verify=true checks the signature against the remote's
	// trustedkeys.gpg, written here from Export.
	pull := func(name string, trusted *Keyring) error {
		dst := filepath.Join(work, name)
		run(t, "ostree", "--repo="+dst, "init", "--mode=archive")
		run(t, "ostree", "--repo="+dst, "remote", "add", "--set=gpg-verify=true", "origin", "file://"+repo)
		writeFile(t, filepath.Join(dst, "origin.trustedkeys.gpg"), trusted.Export())
		_, err := runErr("ostree", "--repo="+dst, "pull", "origin", "main")
		return err
	}
	subOnly, err := ParseKeyring(run(t, "gpg", "--homedir", home, "--export", "--armor", sub.fpr))
	if err != nil {
		t.Fatal(err)
	}
	if err := pull("trusted", subOnly); err != nil {
		t.Fatalf("ostree pull with the signer's key trusted: %v", err)
	}
	if err := pull("untrusted", rsaOnly); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("ostree pull with only another key trusted: %v, want a signature error", err)
	} else {
		t.Log(err)
	}
}
