package fs

import (
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// noOpendir spares the kernel an OPENDIR and a RELEASEDIR round trip per
// directory opened: OPENDIR answers ENOSYS, after which Linux opens
// directories itself and caches their listings (FOPEN_CACHE_DIR). The
// READDIR(PLUS)es that still come, without a handle, are served from one handle
// per directory kept until the kernel forgets the directory. go-fuse's
// node layer does not do this by itself.
type noOpendir struct {
	fuse.RawFileSystem

	mu      sync.Mutex
	handles map[uint64]uint64 // node id -> directory handle
}

func (n *noOpendir) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return fuse.ENOSYS
}

func (n *noOpendir) handle(cancel <-chan struct{}, in *fuse.ReadIn) (uint64, fuse.Status) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if fh, ok := n.handles[in.NodeId]; ok {
		return fh, fuse.OK
	}
	open := fuse.OpenIn{InHeader: in.InHeader}
	var out fuse.OpenOut
	if st := n.RawFileSystem.OpenDir(cancel, &open, &out); !st.Ok() {
		return 0, st
	}
	if n.handles == nil {
		n.handles = map[uint64]uint64{}
	}
	n.handles[in.NodeId] = out.Fh
	return out.Fh, fuse.OK
}

func (n *noOpendir) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if in.Fh != 0 {
		return n.RawFileSystem.ReadDir(cancel, in, out)
	}
	fh, st := n.handle(cancel, in)
	if !st.Ok() {
		return st
	}
	in2 := *in
	in2.Fh = fh
	return n.RawFileSystem.ReadDir(cancel, &in2, out)
}

func (n *noOpendir) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if in.Fh != 0 {
		return n.RawFileSystem.ReadDirPlus(cancel, in, out)
	}
	fh, st := n.handle(cancel, in)
	if !st.Ok() {
		return st
	}
	in2 := *in
	in2.Fh = fh
	return n.RawFileSystem.ReadDirPlus(cancel, &in2, out)
}

func (n *noOpendir) Forget(nodeid, nlookup uint64) {
	n.mu.Lock()
	fh, ok := n.handles[nodeid]
	delete(n.handles, nodeid)
	n.mu.Unlock()
	if ok {
		n.RawFileSystem.ReleaseDir(&fuse.ReleaseIn{InHeader: fuse.InHeader{NodeId: nodeid}, Fh: fh})
	}
	n.RawFileSystem.Forget(nodeid, nlookup)
}
