package commits

import (
	"context"
	"fmt"
	"time"

	"arbor/deploy/flatpak"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/object"
)

// CommitFromOptions tune CommitFrom.
type CommitFromOptions struct {
	SrcRepo string // the repository the source ref is in; "": the destination
	SrcRef  string // "": the destination ref's name
	Subject string // "": the source commit's
	Body    string // "": the source commit's
	// EndOfLife marks the new commit as no longer maintained, with the
	// reason (flatpak's ostree.endoflife).
	EndOfLife string
	// Force commits even when the tree is the destination ref's already.
	Force bool
}

// bindingKeys are the metadata a commit of another ref cannot keep: they
// name the ref it was made for.
func bindingKey(k string) bool {
	switch k {
	case "ostree.ref-binding", "ostree.collection-binding", "xa.ref", "ostree.endoflife":
		return true
	}
	return false
}

// CommitFrom makes a new commit of dstRef in repo whose tree is another
// ref's commit's (from another repository, whose objects are copied and
// verified first), as flatpak's build-commit-from promotes a build from
// one branch or repository to another: the source's metadata kept, the
// ref bindings the new ref's, the parent the new ref's current commit.
// skipped says the tree was the ref's already.
func CommitFrom(ctx context.Context, repo *store.Repo, dstRef string, o CommitFromOptions) (c object.Checksum, skipped bool, err error) {
	dst, err := flatpak.ParseRef(dstRef)
	if err != nil {
		return object.Zero, false, err
	}
	srcName := o.SrcRef
	if srcName == "" {
		srcName = dstRef
	}
	if o.SrcRepo == "" && srcName == dstRef {
		return object.Zero, false, fmt.Errorf("%s: commit from where? give --src-ref or --src-repo", dstRef)
	}
	src := repo
	if o.SrcRepo != "" {
		if src, err = store.Open(o.SrcRepo); err != nil {
			return object.Zero, false, err
		}
		defer src.Close()
	}
	from, err := src.Resolve(srcName)
	if err != nil {
		return object.Zero, false, fmt.Errorf("source ref %s: %w", srcName, err)
	}
	if o.SrcRepo != "" {
		// Asked for by its checksum: the objects come, checked, and no
		// ref of this repository moves before the commit.
		if _, err := fetch.PullLocal(ctx, repo, o.SrcRepo, []string{from.String()}, fetch.PullOptions{}); err != nil {
			return object.Zero, false, fmt.Errorf("copying %s (commit %s) from %s: %w", srcName, from, o.SrcRepo, err)
		}
	}
	cm, err := repo.ReadCommit(from)
	if err != nil {
		return object.Zero, false, fmt.Errorf("source %s: %w", srcName, err)
	}
	var md []object.MetaEntry
	for _, e := range cm.Metadata {
		if !bindingKey(e.Key) {
			md = append(md, e)
		}
	}
	md = append(md, object.String("xa.ref", dst.String()))
	if o.EndOfLife != "" {
		md = append(md, object.String("ostree.endoflife", o.EndOfLife))
	}
	subject, body := o.Subject, o.Body
	if subject == "" {
		subject, body = cm.Subject, cm.Body
	}
	c, stats, err := repo.CommitTrees(ctx, []store.TreeSource{{Commit: from}}, store.CommitOptions{
		Branch:          dst.String(),
		Subject:         subject,
		Body:            body,
		Timestamp:       time.Unix(int64(cm.Timestamp), 0),
		OwnerUID:        -1,
		OwnerGID:        -1,
		Metadata:        md,
		SkipIfUnchanged: !o.Force && o.EndOfLife == "",
	})
	if err != nil {
		return object.Zero, false, fmt.Errorf("committing %s from %s: %w", dst, srcName, err)
	}
	return c, stats.Skipped, nil
}
