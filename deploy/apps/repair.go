package apps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"arbor/deploy/flatpak/commits"
	"arbor/deploy/history"
	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// RepairReport is what Repair found and did.
type RepairReport struct {
	Objects   int      `json:"objects"`   // objects checked
	Removed   []string `json:"removed"`   // corrupt objects deleted, to be fetched again
	Refetched []string `json:"refetched"` // refs whose commits were fetched again
	Problems  []string `json:"problems"`  // what could not be mended
}

// Repair checks every object the installation's repository holds and
// deletes those whose bytes are not their checksum's: a lazily mounted
// ref fetches them again when read; a commit that lost some is marked
// partial; an installed ref whose commit is gone, or whose checkout held
// a corrupt file, is fetched and checked out again from its origin. With
// dryRun nothing changes.
func (m *Manager) Repair(ctx context.Context, dryRun bool, p Progress) (*RepairReport, error) {
	o := m.op(p)
	defer o.close()
	o.send(Event{Phase: PhaseResolving, Message: "checking every object"})
	res, err := m.Repo.Fsck(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("checking the objects: %w", err)
	}
	rep := &RepairReport{Objects: res.Objects, Removed: []string{}, Refetched: []string{}, Problems: []string{}}
	var bad []index.Ref
	for _, pr := range res.Problems {
		x, ok := parseObjectName(pr.Object)
		if !ok || !errors.Is(pr.Err, store.ErrCorrupt) {
			rep.Problems = append(rep.Problems, pr.String())
			continue
		}
		bad = append(bad, x)
		rep.Removed = append(rep.Removed, pr.Object)
	}
	if dryRun {
		return rep, nil
	}
	if err := m.Repo.RemoveObjects(ctx, bad); err != nil {
		return rep, err
	}
	installed, err := m.In.Installed()
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, ref := range installed {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		d, err := m.In.Get(ref)
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		files, materialized := m.In.FilesDir(d)
		complete, err := m.stored(ctx, d.Commit)
		if err != nil {
			return rep, err
		}
		if complete {
			continue
		}
		// Partial, a commit's missing objects are fetched again: as it
		// is read when mounted, by the pull below when checked out.
		if err := m.Repo.SetPartial(d.Commit); err != nil {
			return rep, err
		}
		if has, _ := m.Repo.HasObject(d.Commit, object.TypeCommit); has && !materialized {
			continue
		}
		o.send(Event{Ref: ref.String(), Phase: PhaseFetching, Message: fmt.Sprintf("fetching %s (commit %s) again from %s", ref, short(d.Commit), d.Origin)})
		if _, _, err := m.fetchCommit(ctx, o, d.Origin, ref, d.Commit.String(), materialized); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref, err))
			continue
		}
		if materialized {
			// The checkout's files are the store's (hardlinks): it goes,
			// and is made again from what came.
			if err := os.RemoveAll(files); err != nil {
				return rep, err
			}
			if err := commits.Materialize(ctx, m.Repo, m.In, ref, d.Commit); err != nil {
				errs = append(errs, fmt.Errorf("%s: checking it out again: %w", ref, err))
				continue
			}
		}
		rep.Refetched = append(rep.Refetched, ref.String())
	}
	err = errors.Join(errs...)
	if herr := m.record(history.Entry{Op: "repair"}, err); herr != nil && err == nil {
		err = herr
	}
	return rep, err
}

// stored says whether every object commit c reaches is stored.
func (m *Manager) stored(ctx context.Context, c object.Checksum) (bool, error) {
	if has, err := m.Repo.HasObject(c, object.TypeCommit); err != nil || !has {
		return false, err
	}
	reach, err := m.Repo.Reach(ctx, c)
	if err != nil {
		return false, nil // a dirtree is gone: not complete
	}
	for _, x := range reach {
		if has, err := m.Repo.HasObject(x.Checksum, x.Type); err != nil || !has {
			return false, err
		}
	}
	return true, nil
}

// parseObjectName reads CHECKSUM.TYPE.
func parseObjectName(name string) (index.Ref, bool) {
	sum, typ, ok := strings.Cut(name, ".")
	if !ok {
		return index.Ref{}, false
	}
	c, err := object.ParseChecksum(sum)
	if err != nil {
		return index.Ref{}, false
	}
	t, ok := object.ParseType(typ)
	return index.Ref{Checksum: c, Type: t}, ok
}
