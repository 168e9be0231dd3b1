package sandbox

import (
	"strings"

	"arbor/sandbox/boot"
)

// unsafeEnv are the variables flatpak removes before starting an app:
// they would load host code or point at host paths inside the sandbox.
var unsafeEnv = []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "TMP", "TMPDIR", "TEMP", "TEMPDIR",
	"TZDIR", "PYTHONPATH", "PYTHONPYCACHEPREFIX", "PERLLIB", "PERL5LIB", "XCURSOR_PATH", "KRB5CCNAME",
	"XKB_CONFIG_ROOT", "GIO_EXTRA_MODULES", "GDK_BACKEND"}

// socketEnv are the host's addresses of its sockets: an app is given its
// own (Context.Apply), for what it may reach, and never the host's, which
// name an abstract socket it could reach with the network shared.
var socketEnv = []string{"DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY",
	"PULSE_SERVER", "SSH_AUTH_SOCK"}

// unsafePrefixes are families of such variables.
var unsafePrefixes = []string{"GST_", "VK_", "__EGL_"}

// Environ makes a sandbox's environment from the host's, as flatpak does:
// the unsafe variables go, PATH and the XDG directories point inside,
// then extra (the app's [Environment], then the command line) applies in
// order; an empty value removes a variable.
func Environ(host []string, uid int, home string, extra []string) []string {
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, kv := range host {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || unsafeVar(k) {
			continue
		}
		set(k, v)
	}
	for _, kv := range [][2]string{
		{"PATH", "/app/bin:/usr/bin"},
		{"XDG_CONFIG_DIRS", "/app/etc/xdg:/etc/xdg"},
		{"XDG_DATA_DIRS", "/app/share:/usr/share"},
		{"XDG_RUNTIME_DIR", boot.RuntimeDir(uid)},
		{"SHELL", "/bin/sh"},
		{"HOME", home},
		{"container", "arbor"},
	} {
		set(kv[0], kv[1])
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			delete(env, k)
			continue
		}
		set(k, v)
	}
	out := make([]string, 0, len(env))
	for _, k := range order {
		if v, ok := env[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func unsafeVar(k string) bool {
	for _, u := range unsafeEnv {
		if k == u {
			return true
		}
	}
	for _, u := range socketEnv {
		if k == u {
			return true
		}
	}
	for _, p := range unsafePrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
