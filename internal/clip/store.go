package clip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/internal/event"
)

// ErrTooLarge is returned (wrapped) by Store.Put for a clip larger than the store's whole bound.
var ErrTooLarge = errors.New("clip larger than the clip store's bound")

// StoreOptions configures a Store.
type StoreOptions struct {
	// Dir is the folder of the clips; it is created when missing. Required.
	Dir string
	// MaxAge deletes clips of events that started longer ago than this. It defaults to 0: no limit.
	MaxAge time.Duration
	// MaxBytes bounds the clips' total size, deleting the oldest first. It defaults to 0: no limit.
	MaxBytes int64
	// Metrics, when set, counts deletions and tracks the stored size.
	Metrics *Metrics
	// Now defaults to time.Now.
	Now func() time.Time
}

// Store is a folder of event clips named <event id>.mp4. Writes are atomic (a temporary file in the
// same folder, fsync'd, renamed), so a reader never sees half a clip; the stored clips stay within
// MaxBytes (a new clip makes room by deleting the oldest before it is renamed into place) and MaxAge
// (Prune). Safe for concurrent use.
type Store struct {
	opts StoreOptions

	mu      sync.Mutex
	entries []entry // sorted by id, which sorts by event start
	total   int64
}

type entry struct {
	id   string
	size int64
}

const clipExt = ".mp4"

// OpenStore opens (creating) the folder, forgets temporary files a crash left behind, indexes the
// clips there and applies the retention once.
func OpenStore(opts StoreOptions) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("clip: StoreOptions needs Dir")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("clip store: %w", err)
	}
	des, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("clip store: %w", err)
	}
	s := &Store{opts: opts}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".tmp-") {
			_ = os.Remove(filepath.Join(opts.Dir, name)) // a clip a crash left half written
			continue
		}
		id, ok := strings.CutSuffix(name, clipExt)
		if !ok || !event.ValidID(id) || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		s.entries = append(s.entries, entry{id: id, size: fi.Size()})
		s.total += fi.Size()
	}
	slices.SortFunc(s.entries, func(a, b entry) int { return strings.Compare(a.id, b.id) })
	s.mu.Lock()
	s.makeRoom(0)
	s.mu.Unlock()
	if _, err := s.Prune(); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the store's folder.
func (s *Store) Dir() string { return s.opts.Dir }

func (s *Store) path(id string) string { return filepath.Join(s.opts.Dir, id+clipExt) }

// Put stores the clip of event id: write makes the file at the temporary path it is given; Put
// fsyncs it, deletes the oldest clips until it fits within MaxBytes, and renames it into place. It
// returns the clip's size.
func (s *Store) Put(id string, write func(path string) error) (int64, error) {
	if !event.ValidID(id) {
		return 0, fmt.Errorf("clip store: invalid event id %q", id)
	}
	f, err := os.CreateTemp(s.opts.Dir, ".tmp-"+id+"-*"+clipExt)
	if err != nil {
		return 0, fmt.Errorf("clip store: %w", err)
	}
	tmp := f.Name()
	_ = f.Close()
	defer func() { _ = os.Remove(tmp) }() // gone after the rename; cleans up otherwise
	if err := write(tmp); err != nil {
		return 0, err
	}
	size, err := syncFile(tmp)
	if err != nil {
		return 0, fmt.Errorf("clip store: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.MaxBytes > 0 && size > s.opts.MaxBytes {
		return 0, fmt.Errorf("clip store: %w: %d bytes, bound %d", ErrTooLarge, size, s.opts.MaxBytes)
	}
	s.removeLocked(id) // a clip written again replaces the old one
	s.makeRoom(size)
	if err := os.Rename(tmp, s.path(id)); err != nil {
		s.gauges()
		return 0, fmt.Errorf("clip store: %w", err)
	}
	syncDir(s.opts.Dir)
	i, _ := slices.BinarySearchFunc(s.entries, id, func(e entry, id string) int { return strings.Compare(e.id, id) })
	s.entries = slices.Insert(s.entries, i, entry{id: id, size: size})
	s.total += size
	s.gauges()
	return size, nil
}

func syncFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// syncDir makes a rename durable; a failure only risks the rename after a power cut.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// makeRoom deletes the oldest clips until size more bytes fit within MaxBytes. s.mu is held.
func (s *Store) makeRoom(size int64) {
	if s.opts.MaxBytes <= 0 {
		return
	}
	n := 0
	for n < len(s.entries) && s.total+size > s.opts.MaxBytes {
		_ = os.Remove(s.path(s.entries[n].id))
		s.total -= s.entries[n].size
		n++
	}
	if n > 0 {
		s.entries = slices.Delete(s.entries, 0, n)
		if s.opts.Metrics != nil {
			s.opts.Metrics.Deleted.WithLabelValues("size").Add(float64(n))
		}
	}
	s.gauges()
}

// removeLocked forgets and deletes one clip; s.mu is held.
func (s *Store) removeLocked(id string) bool {
	i, ok := slices.BinarySearchFunc(s.entries, id, func(e entry, id string) int { return strings.Compare(e.id, id) })
	if !ok {
		return false
	}
	_ = os.Remove(s.path(id))
	s.total -= s.entries[i].size
	s.entries = slices.Delete(s.entries, i, i+1)
	return true
}

func (s *Store) gauges() {
	if m := s.opts.Metrics; m != nil {
		m.StoredBytes.Set(float64(s.total))
		m.Stored.Set(float64(len(s.entries)))
	}
}

// Prune deletes the clips of events older than MaxAge now; it returns how many. The Service runs it
// periodically.
func (s *Store) Prune() (int, error) {
	if s.opts.MaxAge <= 0 {
		return 0, nil
	}
	limit := string(event.TimeKey(s.opts.Now().Add(-s.opts.MaxAge)))
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	var errs []error
	for n < len(s.entries) && s.entries[n].id < limit {
		if err := os.Remove(s.path(s.entries[n].id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		s.total -= s.entries[n].size
		n++
	}
	s.entries = slices.Delete(s.entries, 0, n)
	if n > 0 && s.opts.Metrics != nil {
		s.opts.Metrics.Deleted.WithLabelValues("age").Add(float64(n))
	}
	s.gauges()
	if len(errs) > 0 {
		return n, fmt.Errorf("clip store: retention: %w", errors.Join(errs...))
	}
	return n, nil
}

// Open returns the clip of event id, open for reading, and its file information; the error wraps
// event.ErrNotFound when there is none. Close the file.
func (s *Store) Open(id string) (*os.File, os.FileInfo, error) {
	if !event.ValidID(id) {
		return nil, nil, fmt.Errorf("clip %q: %w", id, event.ErrNotFound)
	}
	f, err := os.Open(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("clip %s: %w", id, event.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("clip %s: %w", id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("clip %s: %w", id, err)
	}
	return f, fi, nil
}

// OpenClip is Open for the API (api.ClipReader): the clip, seekable, and its modification time.
func (s *Store) OpenClip(_ context.Context, id string) (io.ReadSeekCloser, time.Time, error) {
	f, fi, err := s.Open(id)
	if err != nil {
		return nil, time.Time{}, err
	}
	return f, fi.ModTime(), nil
}

// Has reports whether event id has a clip.
func (s *Store) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := slices.BinarySearchFunc(s.entries, id, func(e entry, id string) int { return strings.Compare(e.id, id) })
	return ok
}

// Bytes returns the stored clips' total size.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Len returns the number of stored clips.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// DiskBytes sums the sizes of the clip files in the folder as the file system reports them (a check
// of Bytes that tests use).
func (s *Store) DiskBytes() (int64, error) {
	des, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return 0, fmt.Errorf("clip store: %w", err)
	}
	var n int64
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n, nil
}
