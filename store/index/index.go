// Package index is the badger database that arbor keeps beside a repo's
// object files: which objects are present, their type and size, and the set
// of objects each commit reaches. The files stay the truth. Presence is
// re-checked against the mtime of each objects/XX directory on every open,
// so objects written or deleted by another tool (ostree itself) are noticed;
// reach sets describe immutable content and never go stale.
package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"arbor/store/object"
)

// version changes whenever the key layout does; an index of another
// version is rebuilt.
const version = "arbor-index-1"

// Key prefixes.
const (
	pVersion = 'v'
	pObject  = 'o' // 'o' checksum(32) type(1) -> uvarint size
	pDir     = 'd' // 'd' prefix(1) -> int64 mtime in ns (0: rescan)
	pReach   = 'r' // 'r' checksum(32) -> sorted Ref records
)

// racyWindow: a directory modified this recently may change again within
// the same filesystem timestamp tick, so its mtime is not trusted yet. A
// filesystem with sub-second stamps ticks with the kernel's coarse clock
// (a few milliseconds); one with whole seconds (or two, as FAT's) ticks
// that slowly.
func racyWindow(mtime int64) time.Duration {
	if mtime%int64(time.Second) != 0 {
		return 50 * time.Millisecond
	}
	return 2 * time.Second
}

// Ref names an object by checksum and type.
type Ref struct {
	Checksum object.Checksum
	Type     object.Type
}

// Entry is an object known to be present.
type Entry struct {
	Ref
	Size int64 // size of the object file on disk
}

// Index is an open index.
type Index struct {
	db      *badger.DB
	objects string // the repo's objects/ directory
}

// Open opens (creating if needed) the index at dir for the repo objects at
// objectsDir, waiting up to wait for another arbor process to release it;
// after that it answers from the files alone (see files.go). A damaged or
// foreign-version index is deleted and rebuilt.
//
// light asks for small write buffers: a database with them opens in about
// 7 ms against 17 (badger prepares each memtable's log whole), for a process
// that writes a few entries at a time, such as the daemon; bulk writers
// (commit, pull) flush and compact less with the large ones.
func Open(ctx context.Context, dir, objectsDir string, wait time.Duration, light bool) (*Index, error) {
	ix, err := open(ctx, dir, objectsDir, wait, light)
	if errors.Is(err, errLocked) {
		return &Index{objects: objectsDir}, nil
	}
	if err != nil && ctx.Err() == nil {
		// The index holds nothing that the files do not: start over.
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return nil, fmt.Errorf("index %s: %w (and removing it: %v)", dir, err, rmErr)
		}
		ix, err = open(ctx, dir, objectsDir, wait, light)
	}
	if err != nil {
		return nil, err
	}
	if err := ix.Sync(); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

var errLocked = errors.New("index is in use by another arbor process")

func open(ctx context.Context, dir, objectsDir string, wait time.Duration, light bool) (*Index, error) {
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithMetricsEnabled(false).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumCompactors(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(8 << 20).
		WithValueThreshold(1 << 10).
		WithSyncWrites(false) // the files are the truth; a lost write only costs a rescan
	if light {
		opts = opts.WithMemTableSize(2 << 20).WithValueLogFileSize(2 << 20)
	}
	deadline := time.Now().Add(wait)
	for {
		db, err := badger.Open(opts)
		if err == nil {
			ix := &Index{db: db, objects: objectsDir}
			if err := ix.checkVersion(); err != nil {
				db.Close()
				return nil, err
			}
			return ix, nil
		}
		if !strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("index %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("index %s: %w", dir, errLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (ix *Index) checkVersion() error {
	return ix.db.Update(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte{pVersion})
		if errors.Is(err, badger.ErrKeyNotFound) {
			// A new index: every directory will be scanned by Sync.
			return txn.Set([]byte{pVersion}, []byte(version))
		}
		if err != nil {
			return err
		}
		v, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		if string(v) != version {
			return fmt.Errorf("index version %q, want %q", v, version)
		}
		return nil
	})
}

// Close closes the database.
func (ix *Index) Close() error {
	if ix.FilesOnly() {
		return nil
	}
	return ix.db.Close()
}

func objectKey(r Ref) []byte {
	k := make([]byte, 34)
	k[0] = pObject
	copy(k[1:], r.Checksum[:])
	k[33] = byte(r.Type)
	return k
}

// Has reports whether the index lists the object as present.
func (ix *Index) Has(r Ref) (bool, error) {
	if ix.FilesOnly() {
		return ix.filesHas(r)
	}
	err := ix.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(objectKey(r))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Size returns the recorded on-disk size of a present object.
func (ix *Index) Size(r Ref) (int64, bool, error) {
	if ix.FilesOnly() {
		return ix.filesSize(r)
	}
	var size int64
	err := ix.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(objectKey(r))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			n, _ := binary.Uvarint(v)
			size = int64(n)
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// Add records objects as present.
func (ix *Index) Add(entries []Entry) error {
	if ix.FilesOnly() {
		return nil
	}
	wb := ix.db.NewWriteBatch()
	defer wb.Cancel()
	for _, e := range entries {
		if err := wb.Set(objectKey(e.Ref), binary.AppendUvarint(nil, uint64(e.Size))); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// DirWrite is a writer's renames into one objects/XX directory: the
// directory's mtime (ns) before the first and after the last.
type DirWrite struct {
	Prefix        byte
	Before, After int64
}

// AddWritten records objects as present, as Add does, and for each
// directory whose recorded stamp was its mtime before the writer's
// renames (the index knew all of it) records the mtime after them: the
// next open need not list again what this writer wrote itself. Writers
// hold the repository's shared lock, which keeps pruning out, so an
// object another writer renamed in meanwhile is at worst one the index
// misses, which is fetched or written again; never one it has wrongly.
func (ix *Index) AddWritten(entries []Entry, dirs []DirWrite) error {
	if ix.FilesOnly() {
		return nil
	}
	if err := ix.Add(entries); err != nil {
		return err
	}
	if len(dirs) == 0 {
		return nil
	}
	// One transaction for all the directories: a pull writes into
	// hundreds, and each transaction's commit costs.
	return ix.db.Update(func(txn *badger.Txn) error {
		for _, d := range dirs {
			key := []byte{pDir, d.Prefix}
			it, err := txn.Get(key)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var stamp int64
			if err := it.Value(func(v []byte) error {
				if len(v) == 8 {
					stamp = int64(binary.LittleEndian.Uint64(v))
				}
				return nil
			}); err != nil {
				return err
			}
			// -1: the directory was not there, so the index knew all of
			// it (nothing). 0: a rescan is due anyway.
			if stamp == 0 || stamp != d.Before && stamp != -1 {
				continue
			}
			var v [8]byte
			binary.LittleEndian.PutUint64(v[:], uint64(d.After))
			if err := txn.Set(key, v[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Remove records objects as gone, and drops reach sets of removed commits.
func (ix *Index) Remove(refs []Ref) error {
	if ix.FilesOnly() {
		return nil
	}
	wb := ix.db.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range refs {
		if err := wb.Delete(objectKey(r)); err != nil {
			return err
		}
		if r.Type == object.TypeCommit {
			if err := wb.Delete(reachKey(r.Checksum)); err != nil {
				return err
			}
		}
	}
	return wb.Flush()
}

// Objects calls fn for every object the index lists, in checksum order.
func (ix *Index) Objects(fn func(Entry) error) error {
	if ix.FilesOnly() {
		return ix.filesObjects(fn)
	}
	return ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pObject}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			var e Entry
			copy(e.Checksum[:], k[1:33])
			e.Type = object.Type(k[33])
			if err := it.Item().Value(func(v []byte) error {
				n, _ := binary.Uvarint(v)
				e.Size = int64(n)
				return nil
			}); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

func reachKey(c object.Checksum) []byte { return append([]byte{pReach}, c[:]...) }

// SetReach records the complete set of objects a commit reaches (the
// commit itself included).
func (ix *Index) SetReach(commit object.Checksum, refs []Ref) error {
	if ix.FilesOnly() {
		return nil
	}
	sort.Slice(refs, func(i, j int) bool { return lessRef(refs[i], refs[j]) })
	buf := make([]byte, 0, len(refs)*33)
	for _, r := range refs {
		buf = append(buf, r.Checksum[:]...)
		buf = append(buf, byte(r.Type))
	}
	return ix.db.Update(func(txn *badger.Txn) error { return txn.Set(reachKey(commit), buf) })
}

// Reach returns the recorded reach set of a commit; ok is false when none
// has been recorded.
func (ix *Index) Reach(commit object.Checksum) (refs []Ref, ok bool, err error) {
	if ix.FilesOnly() {
		return nil, false, nil
	}
	err = ix.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(reachKey(commit))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v)%33 != 0 {
				return fmt.Errorf("reach set of %s: %d bytes", commit, len(v))
			}
			refs = make([]Ref, len(v)/33)
			for i := range refs {
				copy(refs[i].Checksum[:], v[i*33:])
				refs[i].Type = object.Type(v[i*33+32])
			}
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	return refs, err == nil, err
}

func lessRef(a, b Ref) bool {
	if c := bytes.Compare(a.Checksum[:], b.Checksum[:]); c != 0 {
		return c < 0
	}
	return a.Type < b.Type
}

// Rebuild forgets every directory stamp and rescans all of objects/.
func (ix *Index) Rebuild() error {
	if ix.FilesOnly() {
		return nil
	}
	if err := ix.db.DropPrefix([]byte{pDir}, []byte{pObject}); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return ix.Sync()
}

// Sync brings presence up to date with the object files: every objects/XX
// directory whose mtime differs from the one recorded at its last scan is
// listed again. Cost: 256 stats when nothing changed.
func (ix *Index) Sync() error {
	if ix.FilesOnly() {
		return nil
	}
	for p := 0; p < 256; p++ {
		if err := ix.syncDir(byte(p)); err != nil {
			return fmt.Errorf("index: scanning objects/%02x: %w", p, err)
		}
	}
	return nil
}

func (ix *Index) syncDir(p byte) error {
	dirKey := []byte{pDir, p}
	var stamp int64
	err := ix.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(dirKey)
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 8 {
				stamp = int64(binary.LittleEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	hex := fmt.Sprintf("%02x", p)
	dir := filepath.Join(ix.objects, hex)
	var mtime int64 = -1 // no directory
	if st, err := os.Stat(dir); err == nil {
		mtime = st.ModTime().UnixNano()
	} else if !os.IsNotExist(err) {
		return err
	}
	if stamp != 0 && stamp == mtime {
		return nil
	}
	onDisk := map[Ref]string{}
	if mtime != -1 {
		names, err := readNames(dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			c, t, _, ok := object.ParseLooseName(hex, n)
			if ok {
				onDisk[Ref{c, t}] = n
			}
		}
	}
	wb := ix.db.NewWriteBatch()
	defer wb.Cancel()
	// Drop what is gone, keep what is known.
	err = ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pObject, p}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			var r Ref
			copy(r.Checksum[:], k[1:33])
			r.Type = object.Type(k[33])
			if _, ok := onDisk[r]; ok {
				delete(onDisk, r)
				continue
			}
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for r, n := range onDisk {
		st, err := os.Lstat(filepath.Join(dir, n))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := wb.Set(objectKey(r), binary.AppendUvarint(nil, uint64(st.Size()))); err != nil {
			return err
		}
	}
	if time.Since(time.Unix(0, mtime)) < racyWindow(mtime) {
		mtime = 0
	}
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], uint64(mtime))
	if err := wb.Set(dirKey, v[:]); err != nil {
		return err
	}
	return wb.Flush()
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
