package flatpak

import (
	"sort"
	"strconv"
	"strings"
	"syscall"

	"arbor/store/object"
)

// Instance is a process running deployed commits, as Hold recorded it:
// the app's commit first, then its runtime's.
type Instance struct {
	PID     int
	Commits []object.Checksum
}

// Instances lists the processes that hold commits and still run.
func (in *Installation) Instances() ([]Instance, error) {
	held, err := in.refs().Local("instance")
	if err != nil {
		return nil, err
	}
	byPID := map[int]map[int]object.Checksum{}
	for name, c := range held {
		p, n, ok := strings.Cut(strings.TrimPrefix(name, "instance/"), "-")
		pid, err1 := strconv.Atoi(p)
		i, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
			continue
		}
		if byPID[pid] == nil {
			byPID[pid] = map[int]object.Checksum{}
		}
		byPID[pid][i] = c
	}
	out := make([]Instance, 0, len(byPID))
	for pid, cs := range byPID {
		inst := Instance{PID: pid}
		for i := 0; i < len(cs); i++ {
			c, ok := cs[i]
			if !ok {
				break
			}
			inst.Commits = append(inst.Commits, c)
		}
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}
