package main

import (
	"fmt"

	"arbor/store"
	"arbor/store/object"
)

// printSizes prints a commit's size index: the objects missing from the
// repository ("needed") and all of them, as ostree's show --print-sizes.
func (a *app) printSizes(r *store.Repo, sum object.Checksum, c *object.Commit) error {
	sizes, ok, err := store.ParseSizes(c.Metadata)
	if err != nil {
		return fmt.Errorf("commit %s: %w", sum, err)
	}
	if !ok {
		return fmt.Errorf("commit %s: no size metadata; commit with --generate-sizes", sum)
	}
	var needStored, needUnpacked, stored, unpacked uint64
	var need int
	for _, s := range sizes {
		stored += s.Stored
		unpacked += s.Unpacked
		has, err := r.HasObject(s.Checksum, s.Type)
		if err != nil {
			return err
		}
		if !has {
			need++
			needStored += s.Stored
			needUnpacked += s.Unpacked
		}
	}
	fmt.Fprintf(a.Stdout, "Compressed size (needed/total): %s/%s\n", siSize(needStored), siSize(stored))
	fmt.Fprintf(a.Stdout, "Unpacked size (needed/total): %s/%s\n", siSize(needUnpacked), siSize(unpacked))
	fmt.Fprintf(a.Stdout, "Number of objects (needed/total): %d/%d\n", need, len(sizes))
	return nil
}

// siSize formats a size in decimal units, one decimal place above bytes.
func siSize(n uint64) string {
	switch {
	case n == 1:
		return "1 byte"
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	}
	v := float64(n) / 1000
	for _, unit := range []string{"kB", "MB", "GB", "TB", "PB"} {
		if v < 1000 {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
		v /= 1000
	}
	return fmt.Sprintf("%.1f EB", v)
}
