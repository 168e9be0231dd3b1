package sysroot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/object"
)

// errNoKernel is a tree with nothing to boot.
var errNoKernel = errors.New("Failed to find kernel in /usr/lib/modules, /usr/lib/ostree-boot or /boot")

// legacyBootDirs hold kernels named NAME-BOOTCSUM, older trees' layout;
// they are looked in before usr/lib/modules.
var legacyBootDirs = []string{"usr/lib/ostree-boot", "boot"}

// kernel is what a tree boots, as ostree finds it: in
// usr/lib/modules/VERSION/ (vmlinuz, initramfs.img, devicetree, dtb/,
// .vmlinuz.hmac) or, in a legacy layout, as vmlinuz-*-BOOTCSUM (and
// initramfs-*, devicetree-*) in usr/lib/ostree-boot or boot.
type kernel struct {
	bootCsum string
	// Each file: its path relative to the tree root, and its name in
	// boot/ostree/STATEROOT-BOOTCSUM; paths are empty when absent.
	vmlinuz, vmlinuzName       string
	initramfs, initramfsName   string
	devicetree, devicetreeName string
	hmac, hmacName             string
	dtb                        string // a directory of device trees, copied as dtb
}

// findKernel finds the kernel in a deployment's files and its boot
// checksum; with noDtb, a dtb directory is left out.
func findKernel(root string, noDtb bool) (kernel, error) {
	k, err := kernelLayout(root, noDtb)
	if err != nil || k.bootCsum != "" {
		return k, err
	}
	h := sha256.New()
	for _, p := range []string{k.vmlinuz, k.initramfs, k.devicetree} {
		if p != "" {
			if err := hashFile(h, filepath.Join(root, p)); err != nil {
				return kernel{}, err
			}
		}
	}
	if k.dtb != "" {
		if err := hashDir(h, filepath.Join(root, k.dtb)); err != nil {
			return kernel{}, err
		}
	}
	k.bootCsum = hex.EncodeToString(h.Sum(nil))
	return k, nil
}

// kernelLayout finds the kernel's files; the boot checksum is known only
// for a legacy layout, whose names carry it.
func kernelLayout(root string, noDtb bool) (kernel, error) {
	for _, dir := range legacyBootDirs {
		k, ok, err := legacyKernel(root, dir)
		if err != nil || ok {
			return k, err
		}
	}
	ents, err := os.ReadDir(filepath.Join(root, "usr/lib/modules"))
	if err != nil && !os.IsNotExist(err) {
		return kernel{}, err
	}
	for _, e := range ents {
		base := "usr/lib/modules/" + e.Name()
		if !isFile(root, base+"/vmlinuz") {
			continue
		}
		v := e.Name()
		k := kernel{vmlinuz: base + "/vmlinuz", vmlinuzName: "vmlinuz-" + v}
		if isFile(root, base+"/initramfs.img") {
			k.initramfs, k.initramfsName = base+"/initramfs.img", "initramfs-"+v+".img"
		}
		if isFile(root, base+"/devicetree") {
			k.devicetree, k.devicetreeName = base+"/devicetree", "devicetree-"+v
		}
		if isFile(root, base+"/.vmlinuz.hmac") {
			k.hmac, k.hmacName = base+"/.vmlinuz.hmac", ".vmlinuz-"+v+".hmac"
		}
		if fi, err := os.Stat(filepath.Join(root, base, "dtb")); err == nil && fi.IsDir() && !noDtb {
			k.dtb = base + "/dtb"
		}
		return k, nil
	}
	return kernel{}, errNoKernel
}

// legacyKernel looks for vmlinuz-*-BOOTCSUM in dir; the other files
// must name the same checksum.
func legacyKernel(root, dir string) (kernel, bool, error) {
	ents, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return kernel{}, false, nil
	}
	var k kernel
	sums := map[string]string{}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		i := strings.LastIndex(name, "-")
		if i < 0 {
			continue
		}
		stem, sum := name[:i], name[i+1:]
		p := dir + "/" + name
		switch {
		case strings.HasPrefix(name, "vmlinuz-"):
			k.vmlinuz, k.vmlinuzName = p, stem
		case strings.HasPrefix(name, "initramfs-"):
			k.initramfs, k.initramfsName = p, stem
		case strings.HasPrefix(name, "devicetree-"):
			k.devicetree, k.devicetreeName = p, stem
		default:
			continue
		}
		sums[stem] = sum
	}
	if k.vmlinuz == "" {
		return kernel{}, false, nil
	}
	k.bootCsum = sums[k.vmlinuzName]
	for stem, sum := range sums {
		if sum != k.bootCsum {
			return kernel{}, false, fmt.Errorf("%s: %s names checksum %s, the kernel %s", dir, stem, sum, k.bootCsum)
		}
	}
	return k, true, nil
}

func isFile(root, p string) bool {
	fi, err := os.Stat(filepath.Join(root, p))
	return err == nil && fi.Mode().IsRegular()
}

func hashFile(h hash.Hash, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// hashDir hashes the files below dir in name order, depth first.
func hashDir(h hash.Hash, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			err = hashDir(h, p)
		case e.Type().IsRegular():
			err = hashFile(h, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkKernel refuses a commit without a kernel, before anything is
// written.
func checkKernel(r *store.Repo, c object.Checksum) error {
	for _, dir := range legacyBootDirs {
		if n, err := r.Lookup(c, "/"+dir); err == nil && n.IsDir {
			kids, err := r.Children(n)
			if err != nil {
				return err
			}
			for _, k := range kids {
				if !k.IsDir && strings.HasPrefix(path.Base(k.Path), "vmlinuz-") {
					return nil
				}
			}
		}
	}
	if mods, err := r.Lookup(c, "/usr/lib/modules"); err == nil && mods.IsDir {
		kids, err := r.Children(mods)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if _, err := r.Lookup(c, k.Path+"/vmlinuz"); k.IsDir && err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("commit %s: %w", c, errNoKernel)
}

// installKernel copies the kernel and what goes with it to
// boot/ostree/STATEROOT-BOOTCSUM: the whole directory for a new one,
// else whatever file of the tree's layout it lacks.
func (s *Sysroot) installKernel(d *Deployment) error {
	root := s.Dir(d)
	k, err := kernelLayout(root, s.Debug.NoDtb) // d.BootCsum names the directory
	if err != nil {
		return err
	}
	dest := filepath.Join(s.Path, "boot", "ostree", d.Stateroot+"-"+d.BootCsum)
	target := dest
	if _, err := os.Stat(dest); err != nil {
		target = dest + ".tmp"
		os.RemoveAll(target)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	}
	copies := map[string]string{k.vmlinuz: k.vmlinuzName}
	for src, name := range map[string]string{k.initramfs: k.initramfsName, k.devicetree: k.devicetreeName, k.hmac: k.hmacName} {
		if src != "" {
			copies[src] = name
		}
	}
	for src, name := range copies {
		if _, err := os.Lstat(filepath.Join(target, name)); err == nil {
			continue
		}
		if err := copyFileTo(filepath.Join(root, src), filepath.Join(target, name)); err != nil {
			return err
		}
	}
	if k.dtb != "" {
		if _, err := os.Lstat(filepath.Join(target, "dtb")); err != nil {
			tmp := filepath.Join(target, ".dtb.tmp")
			os.RemoveAll(tmp)
			if err := copyTreeTo(filepath.Join(root, k.dtb), tmp); err != nil {
				return err
			}
			if err := os.Rename(tmp, filepath.Join(target, "dtb")); err != nil {
				return err
			}
		}
	}
	if target != dest {
		if err := os.Rename(target, dest); err != nil {
			return err
		}
	}
	return atomic.SyncDir(filepath.Dir(dest))
}

func copyFileTo(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomic.WriteFile(dst, b, 0o644, true)
}

// copyTreeTo copies the directories and regular files below src.
func copyTreeTo(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		switch {
		case e.IsDir():
			err = copyTreeTo(s, d)
		case e.Type().IsRegular():
			err = copyFileTo(s, d)
		}
		if err != nil {
			return err
		}
	}
	return atomic.SyncDir(dst)
}
