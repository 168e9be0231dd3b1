package exports

import (
	"fmt"
	"slices"

	"arbor/store/keyfile"
)

const serviceGroup = "D-BUS Service"

// rewriteService makes the exported form of the D-Bus service file
// bus.service (bus is under the app's id, which the rules checked): a new
// file of only Name, which must be bus as flatpak requires, and Exec
// through the launcher. Every other key goes, SystemdService and User
// too, which would have the bus start a unit or user of the app's choice
// instead of Exec (flatpak keeps them).
func (l Launcher) rewriteService(b []byte, bus string) ([]byte, error) {
	kf, err := keyfile.ParseStrict(b)
	if err != nil {
		return nil, err
	}
	if name, _ := kf.Get(serviceGroup, "Name"); name != bus {
		return nil, fmt.Errorf("[%s] Name=%q: a service file must be named after its bus name (%s)", serviceGroup, name, bus)
	}
	old, ok := kf.Get(serviceGroup, "Exec")
	if !ok {
		return nil, fmt.Errorf("[%s] has no Exec", serviceGroup)
	}
	exec, err := l.rewriteExec(old, dbusExec)
	if err != nil {
		return nil, fmt.Errorf("[%s] %w", serviceGroup, err)
	}
	out := keyfile.New()
	out.Set(serviceGroup, "Name", bus)
	out.Set(serviceGroup, "Exec", exec)
	data := out.Bytes()
	if err := l.checkService(data, bus); err != nil {
		return nil, fmt.Errorf("rewritten, it does not validate: %w", err)
	}
	return data, nil
}

func (l Launcher) checkService(b []byte, bus string) error {
	kf, err := keyfile.ParseStrict(b)
	if err != nil {
		return err
	}
	if !slices.Equal(kf.Groups(), []string{serviceGroup}) || !slices.Equal(kf.Keys(serviceGroup), []string{"Name", "Exec"}) {
		return fmt.Errorf("more than [%s] Name and Exec", serviceGroup)
	}
	if name, _ := kf.Get(serviceGroup, "Name"); name != bus {
		return fmt.Errorf("Name=%q, not %s", name, bus)
	}
	v, _ := kf.Get(serviceGroup, "Exec")
	return l.checkExec(v, dbusExec)
}
