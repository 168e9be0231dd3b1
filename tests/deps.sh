#!/bin/bash
# Installs what arbor's build, tests and demo need on a fresh Debian machine.
# Safe to run again: packages already present are not reinstalled.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ostree || need+=(ostree)
[ -d /usr/libexec/installed-tests/libostree ] || need+=(ostree-tests) # ostree's own suite, run with arbor as ostree
have fusermount3 || need+=(fuse3)
have nginx || [ -x /usr/sbin/nginx ] || need+=(nginx)
have gpg || need+=(gpg)
have setfattr || need+=(attr)
have mkfs.ext4 && have chattr || [ -x /sbin/mkfs.ext4 ] && have chattr || need+=(e2fsprogs)
have setpriv || need+=(util-linux)
dpkg -s libseccomp-dev >/dev/null 2>&1 || need+=(libseccomp-dev)
dpkg -s libdeflate-dev >/dev/null 2>&1 || need+=(libdeflate-dev)
dpkg -s liblzma-dev >/dev/null 2>&1 || need+=(liblzma-dev)
have gcc || need+=(gcc)
have pkg-config || need+=(pkg-config)
have bwrap || need+=(bubblewrap)
have flatpak || need+=(flatpak)
have curl || need+=(curl)
have gio || need+=(libglib2.0-bin) # the exports tests launch desktop files with it
# An app's buses go through xdg-dbus-proxy; the tests start a dbus-daemon
# with echo services (dbus-test-tool) and call them with dbus-send.
have xdg-dbus-proxy || need+=(xdg-dbus-proxy)
have dbus-daemon || need+=(dbus-daemon)
have dbus-send || need+=(dbus-bin)
have dbus-test-tool || need+=(dbus-tests)
[ -x /usr/libexec/xdg-desktop-portal ] || need+=(xdg-desktop-portal)
# A GTK app on screen: zenity under Xvfb, its screen dumped with xwd.
have zenity || need+=(zenity)
have Xvfb || need+=(xvfb)
have xwd || need+=(x11-apps)
have weston || need+=(weston) # and on Wayland, under its headless compositor
# tests/center drives the center's page in Debian's Chromium with node.
[ -x /usr/bin/chromium ] || need+=(chromium)
have node || need+=(nodejs)
have npm || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! have go && [ ! -x /usr/local/go/bin/go ]; then
	echo "Go 1.26 or newer is needed (expected at /usr/local/go or on PATH)" >&2
	exit 1
fi

# playwright-core, pinned by tests/center/package-lock.json; it drives the
# Chromium above and downloads no browser of its own.
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/center/node_modules" ]; then
	echo "installing tests/center's node modules" >&2
	(cd "$here/center" && npm ci --no-audit --no-fund >/dev/null)
fi
