package sysroot

import (
	"strings"
	"testing"
)

func TestSyslinuxConfig(t *testing.T) {
	old := "PROMPT 1\nDEFAULT old (ostree:0)\nLABEL old (ostree:0)\n\tKERNEL /boot/ostree/os-1/vmlinuz\n\tAPPEND ostree=x\nLABEL rescue\n\tKERNEL /rescue/vmlinuz\n"
	e := []bootEntry{
		{title: "new (ostree:0)", linux: "/ostree/os-2/vmlinuz", initrd: "/ostree/os-2/initrd", options: []string{"quiet", "ostree=/ostree/boot.1/os/2/0"}},
		{title: "prev (ostree:1)", linux: "/ostree/os-3/vmlinuz", options: []string{"ostree=/ostree/boot.1/os/3/0"}},
	}
	got := string(syslinuxConfig([]byte(old), e))
	want := "DEFAULT new (ostree:0)\n" +
		"LABEL new (ostree:0)\n\tKERNEL /boot/ostree/os-2/vmlinuz\n\tINITRD /boot/ostree/os-2/initrd\n\tAPPEND quiet ostree=/ostree/boot.1/os/2/0\n" +
		"LABEL prev (ostree:1)\n\tKERNEL /boot/ostree/os-3/vmlinuz\n\tAPPEND ostree=/ostree/boot.1/os/3/0\n" +
		"PROMPT 1\nLABEL rescue\n\tKERNEL /rescue/vmlinuz\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestUbootConfig(t *testing.T) {
	e := []bootEntry{
		{linux: "/k1", initrd: "/i1", fdtdir: "/ostree/os-1/dtb", options: []string{"a"}},
		{linux: "/k2", devicetree: "/d2", options: []string{"b"}},
	}
	got := string(ubootConfig(e, []byte("loadfdt=x")))
	want := "kernel_image=/k1\nramdisk_image=/i1\nfdtdir=/ostree/os-1/dtb\nbootargs=a\nkernel_image2=/k2\nfdtfile2=/d2\nbootargs2=b\nloadfdt=x\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(bootEntry{linux: "/k", fdtdir: "/f", options: []string{"x"}}.text(), "fdtdir /f\n") {
		t.Error("BLS entry lacks fdtdir")
	}
}
