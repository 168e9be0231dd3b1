package fs

import (
	"context"
	"errors"
	"io"
	"path"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"arbor/store/object"
)

// file is a regular file or a symlink: one content object.
type file struct {
	gofs.Inode
	t    *tree
	sum  object.Checksum
	info FileInfo
	path string // where it was first looked up, for profiles and errors
	read atomic.Bool
}

var (
	_ gofs.NodeGetattrer   = (*file)(nil)
	_ gofs.NodeOpener      = (*file)(nil)
	_ gofs.NodeReader      = (*file)(nil)
	_ gofs.NodeReadlinker  = (*file)(nil)
	_ gofs.NodeGetxattrer  = (*file)(nil)
	_ gofs.NodeListxattrer = (*file)(nil)
	_ gofs.NodeFlusher     = (*file)(nil)
)

// Flush answers ENOSYS, after which the kernel stops sending FLUSH on
// every close: there is never anything to flush.
func (f *file) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

func (f *file) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillFile(&out.Attr, f.sum, &f.info)
	return 0
}

// passthroughMin is the size from which a file is read through the
// kernel's passthrough: below it, registering a backing file costs more
// than the reads it saves.
const passthroughMin = 1 << 20

// Open answers ENOSYS unless passthrough is on: the kernel then stops
// sending OPEN, FLUSH and RELEASE for this mount and keeps each file's
// page cache, which is right for content that never changes.
func (f *file) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC) != 0 {
		return nil, 0, syscall.EROFS
	}
	if !f.t.opts.Passthrough {
		return nil, 0, syscall.ENOSYS
	}
	if f.info.IsSymlink() || f.info.Size < passthroughMin {
		return nil, fuse.FOPEN_KEEP_CACHE, 0
	}
	data, err := f.t.src.Open(ctx, f.sum)
	if err != nil {
		return nil, 0, f.t.toErrno("/"+f.path, err)
	}
	fder, ok := data.(interface{ Fd() uintptr })
	if !ok {
		data.Close()
		return nil, fuse.FOPEN_KEEP_CACHE, 0
	}
	return &backing{data: data, fd: int(fder.Fd())}, fuse.FOPEN_KEEP_CACHE, 0
}

// backing is an open file the kernel reads directly (passthrough); when
// it cannot, reads come to file.Read as usual.
type backing struct {
	data Data
	fd   int
}

var (
	_ gofs.FilePassthroughFder = (*backing)(nil)
	_ gofs.FileReleaser        = (*backing)(nil)
)

func (b *backing) PassthroughFd() (int, bool) { return b.fd, true }

func (b *backing) Release(ctx context.Context) syscall.Errno {
	b.data.Close()
	return 0
}

func (f *file) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if f.info.IsSymlink() {
		return nil, syscall.EINVAL
	}
	if !f.read.Swap(true) {
		if f.t.opts.OnRead != nil {
			f.t.opts.OnRead(f.path, f.sum)
		}
		f.prefetchSource()
	}
	if off >= int64(f.info.Size) {
		return fuse.ReadResultData(nil), 0
	}
	data, err := f.t.src.Open(ctx, f.sum)
	if err != nil {
		return nil, f.t.toErrno("/"+f.path, err)
	}
	defer data.Close()
	n, err := data.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, f.t.toErrno("/"+f.path, err)
	}
	f.t.reads.Add(int64(n))
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *file) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if !f.info.IsSymlink() {
		return nil, syscall.EINVAL
	}
	return []byte(f.info.Target), 0
}

func (f *file) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getxattr(f.info.Xattrs, attr, dest)
}

func (f *file) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(f.info.Xattrs, dest)
}

// prefetchSource starts fetching D/NAME.py when D/__pycache__/NAME.*.pyc
// is first read (python.go).
func (f *file) prefetchSource() {
	dir, base := path.Split(f.path)
	stem, ok := bytecodeStem(path.Base(dir), base)
	if !ok {
		return
	}
	_, cache := f.Parent()
	if cache == nil {
		return
	}
	_, up := cache.Parent()
	if up == nil {
		return
	}
	if lt, ok := up.Operations().(interface{ loaded() *object.DirTree }); ok {
		f.t.prefetchModule(lt.loaded(), stem+".py")
	}
}
