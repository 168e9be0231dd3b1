package sysroot

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/keyfile"
)

func TestFindKernel(t *testing.T) {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, x := range []struct {
		name  string
		files map[string]string
		want  kernel
	}{
		{"modules", map[string]string{
			"usr/lib/modules/3.6/vmlinuz": "k", "usr/lib/modules/3.6/initramfs.img": "i",
			"usr/lib/modules/3.6/.vmlinuz.hmac": "h",
		}, kernel{bootCsum: sum("ki"), vmlinuzName: "vmlinuz-3.6", initramfsName: "initramfs-3.6.img", hmacName: ".vmlinuz-3.6.hmac"}},
		{"modules with device trees, sorted", map[string]string{
			"usr/lib/modules/3.6/vmlinuz": "k", "usr/lib/modules/3.6/dtb/b/x.dtbo": "2", "usr/lib/modules/3.6/dtb/a.dtb": "1",
		}, kernel{bootCsum: sum("k12"), vmlinuzName: "vmlinuz-3.6"}},
		{"legacy wins", map[string]string{
			"usr/lib/modules/3.6/vmlinuz": "k", "boot/vmlinuz-3.6-abc": "k", "boot/initramfs-3.6.img-abc": "i",
		}, kernel{bootCsum: "abc", vmlinuzName: "vmlinuz-3.6", initramfsName: "initramfs-3.6.img"}},
		{"none", map[string]string{"usr/bin/sh": "x"}, kernel{}},
	} {
		root := t.TempDir()
		for p, c := range x.files {
			os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
			if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		k, err := findKernel(root, false)
		if x.want.bootCsum == "" {
			if err == nil {
				t.Errorf("%s: found %+v", x.name, k)
			}
			continue
		}
		if err != nil || k.bootCsum != x.want.bootCsum || k.vmlinuzName != x.want.vmlinuzName ||
			k.initramfsName != x.want.initramfsName || k.hmacName != x.want.hmacName {
			t.Errorf("%s: %+v %v, want %+v", x.name, k, err, x.want)
		}
	}
}

// With noDtb (OSTREE_SYSROOT_DEBUG=no-dtb), device trees are neither
// hashed nor installed.
func TestFindKernelNoDtb(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{"usr/lib/modules/3.6/vmlinuz": "k", "usr/lib/modules/3.6/dtb/a.dtb": "1"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	with, _ := findKernel(root, false)
	without, err := findKernel(root, true)
	if err != nil || without.dtb != "" || with.dtb == "" || with.bootCsum == without.bootCsum {
		t.Errorf("with %+v, without %+v %v", with, without, err)
	}
}

func TestParseDebug(t *testing.T) {
	d := ParseDebug("mutable-deployments, no-dtb,unknown")
	if !d.MutableDeployments || !d.NoDtb || d.TestFifreeze {
		t.Errorf("%+v", d)
	}
}

func TestRemotesConfigDir(t *testing.T) {
	phys, dep := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dep, "sysroot"), 0o755); err != nil {
		t.Fatal(err)
	}
	on, off := keyfile.New(), keyfile.New()
	off.Set("core", "add-remotes-config-dir", "false")
	if got := RemotesConfigDir(phys, on); got != "" {
		t.Errorf("physical sysroot: %q", got)
	}
	if got := RemotesConfigDir(dep, on); got != filepath.Join(dep, "etc/ostree/remotes.d") {
		t.Errorf("deployment root: %q", got)
	}
	if got := RemotesConfigDir(dep, off); got != "" {
		t.Errorf("add-remotes-config-dir=false: %q", got)
	}
}
