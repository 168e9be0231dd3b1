package sysroot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"arbor/store/atomic"
)

// bootloader is the boot loader whose own configuration is written
// beside the BLS entries: the repository's sysroot.bootloader, else the
// one whose configuration file /boot has.
func (s *Sysroot) bootloader() (string, error) {
	v := s.Repo.Config().String("sysroot", "bootloader", "auto")
	switch v {
	case "none", "syslinux", "grub2", "uboot":
		return v, nil
	case "auto", "":
	default:
		return "", fmt.Errorf("sysroot.bootloader %q: arbor writes none, syslinux, grub2 or uboot", v)
	}
	// Links into boot/loader that dangle until a first configuration
	// is written count.
	for _, c := range []struct{ name, file string }{
		{"syslinux", "boot/syslinux/syslinux.cfg"},
		{"grub2", "boot/grub2/grub.cfg"},
		{"uboot", "boot/uEnv.txt"},
	} {
		if _, err := os.Lstat(filepath.Join(s.Path, c.file)); err == nil {
			return c.name, nil
		}
	}
	return "none", nil
}

// writeBootloaderConfig writes the boot loader's configuration for
// entries (ds's, in order) into the new loader directory.
func (s *Sysroot) writeBootloaderConfig(ctx context.Context, loader string, ds []*Deployment, entries []bootEntry) error {
	bl, err := s.bootloader()
	if err != nil {
		return err
	}
	switch bl {
	case "syslinux":
		old, _ := os.ReadFile(filepath.Join(s.Path, "boot", "syslinux", "syslinux.cfg"))
		return atomic.WriteFile(filepath.Join(loader, "syslinux.cfg"), syslinuxConfig(old, entries), 0o644, true)
	case "uboot":
		var extra []byte
		if len(ds) > 0 {
			extra, _ = os.ReadFile(filepath.Join(s.Dir(ds[0]), "usr", "lib", "ostree-boot", "uEnv.txt"))
		}
		return atomic.WriteFile(filepath.Join(loader, "uEnv.txt"), ubootConfig(entries, extra), 0o644, true)
	case "grub2":
		return s.runGrub2Mkconfig(ctx, loader)
	}
	return nil
}

// syslinuxConfig is old (the current syslinux.cfg) with its entries of
// arbor's or ostree's deployments (those booting /ostree/ kernels)
// replaced by entries', the first the default.
func syslinuxConfig(old []byte, entries []bootEntry) []byte {
	var kept []string
	var block []string // the LABEL being read, with its lines
	ours := false
	flush := func() {
		if !ours {
			kept = append(kept, block...)
		}
		block, ours = nil, false
	}
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "LABEL "):
			flush()
			block = append(block, l)
		case len(block) > 0 && (strings.HasPrefix(l, "\t") || strings.HasPrefix(l, " ")):
			block = append(block, l)
			if k, ok := strings.CutPrefix(t, "KERNEL "); ok && strings.Contains(k, "/ostree/") {
				ours = true
			}
		case strings.HasPrefix(t, "DEFAULT ") && len(entries) > 0:
			// Replaced by the new default.
		case t == "" && (len(block) == 0 || ours):
		default:
			flush()
			kept = append(kept, l)
		}
	}
	flush()
	var b strings.Builder
	if len(entries) > 0 {
		fmt.Fprintf(&b, "DEFAULT %s\n", entries[0].title)
	}
	for _, e := range entries {
		fmt.Fprintf(&b, "LABEL %s\n\tKERNEL /boot%s\n", e.title, e.linux)
		if e.initrd != "" {
			fmt.Fprintf(&b, "\tINITRD /boot%s\n", e.initrd)
		}
		if e.devicetree != "" {
			fmt.Fprintf(&b, "\tFDT /boot%s\n", e.devicetree)
		}
		fmt.Fprintf(&b, "\tAPPEND %s\n", strings.Join(e.options, " "))
	}
	for _, l := range kept {
		b.WriteString(l + "\n")
	}
	return []byte(b.String())
}

// ubootConfig is uEnv.txt for entries: kernel_image, ramdisk_image,
// fdtfile, fdtdir and bootargs for the default, the same with 2, 3, ...
// for the others, then extra (the default deployment's own uEnv.txt).
func ubootConfig(entries []bootEntry, extra []byte) []byte {
	var b bytes.Buffer
	for i, e := range entries {
		n := ""
		if i > 0 {
			n = fmt.Sprint(i + 1)
		}
		fmt.Fprintf(&b, "kernel_image%s=%s\n", n, e.linux)
		for _, kv := range [][2]string{{"ramdisk_image", e.initrd}, {"fdtfile", e.devicetree}, {"fdtdir", e.fdtdir}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "%s%s=%s\n", kv[0], n, kv[1])
			}
		}
		fmt.Fprintf(&b, "bootargs%s=%s\n", n, strings.Join(e.options, " "))
	}
	b.Write(extra)
	if len(extra) > 0 && !bytes.HasSuffix(extra, []byte("\n")) {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// runGrub2Mkconfig has grub2-mkconfig (or s.Grub2Mkconfig) write the new
// loader directory's grub.cfg from its entries.
func (s *Sysroot) runGrub2Mkconfig(ctx context.Context, loader string) error {
	prog := s.Grub2Mkconfig
	if prog == "" {
		var err error
		if prog, err = exec.LookPath("grub2-mkconfig"); err != nil {
			return fmt.Errorf("writing grub.cfg: %w", err)
		}
	}
	out := filepath.Join(loader, "grub.cfg")
	cmd := exec.CommandContext(ctx, prog, "-o", out)
	cmd.Env = append(os.Environ(), "_OSTREE_GRUB2_BOOTVERSION="+strings.TrimPrefix(filepath.Base(loader), "loader."), "_OSTREE_GRUB2_IS_DEPLOYING=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s -o %s: %w: %s", prog, out, err, bytes.TrimSpace(b))
	}
	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("%s wrote no %s: %w", prog, out, err)
	}
	defer f.Close()
	return f.Sync()
}
