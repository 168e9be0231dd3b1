package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GPGKey is a throwaway signing key in its own GnuPG home.
type GPGKey struct {
	Home   string // GNUPGHOME holding the secret key
	ID     string // full fingerprint
	Public string // path of the exported public key (binary)
}

// NewGPGKey makes an ed25519 signing key with no passphrase. The home is
// short-pathed because gpg-agent's socket path has a length limit.
func NewGPGKey(t testing.TB, name string) GPGKey {
	t.Helper()
	NeedTool(t, "gpg")
	home, err := os.MkdirTemp("/tmp", "agpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	gpg := func(args ...string) string {
		return Run(t, "gpg", append([]string{"--homedir", home, "--batch", "--no-tty", "--quiet"}, args...)...)
	}
	gpg("--passphrase", "", "--quick-gen-key", name+" <"+strings.ToLower(strings.ReplaceAll(name, " ", "."))+"@arbor.test>", "ed25519", "sign", "never")
	out := gpg("--list-secret-keys", "--with-colons")
	var fpr string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "fpr:") {
			f := strings.Split(l, ":")
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatalf("no fingerprint in:\n%s", out)
	}
	pub := filepath.Join(home, "pub.gpg")
	cmd := exec.Command("gpg", "--homedir", home, "--batch", "--export", "--output", pub, fpr)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exporting key: %v\n%s", err, b)
	}
	return GPGKey{Home: home, ID: fpr, Public: pub}
}
