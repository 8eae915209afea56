package natsbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mvwatch/mvwatch/internal/event"
)

// ClipsBucket is the object store bucket of event clips: object name = event id, content = the
// clip's MP4. Its stream is "OBJ_" + ClipsBucket.
const ClipsBucket = "MVWATCH_CLIPS"

// clipsStream is the stream behind ClipsBucket.
const clipsStream = "OBJ_" + ClipsBucket

// ErrClipTooLarge marks a clip object larger than ClipsConfig.MaxClipBytes.
var ErrClipTooLarge = errors.New("natsbus: clip larger than the clip bound")

// ClipsConfig configures the clip bucket. Zero values take the defaults.
type ClipsConfig struct {
	// MaxBytes bounds the bucket's total size (clips.max_bytes). A clip that does not fit makes
	// room by deleting the oldest clips (by event id, which sorts by start time) and is put once
	// more; the bucket itself refuses any write beyond the bound (discard new). 0: no limit.
	MaxBytes int64
	// TTL deletes a clip this long after it was put (clips.max_age). 0: kept until MaxBytes needs
	// room.
	TTL time.Duration
	// MaxClipBytes bounds one clip object, put and read (ClipObjectLimit of clips.max_clip_bytes).
	// It defaults to ClipObjectLimit(64 MiB).
	MaxClipBytes int64
	// Queue bounds the clips waiting to be put (each a file name, the bytes stay on disk). It
	// defaults to 64.
	Queue int
	// Metrics are the clip bucket's metrics (NewClipMetrics). Nil: unregistered ones.
	Metrics *ClipMetrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ClipObjectLimit is the largest clip object accepted for clips.max_clip_bytes of coded video: the
// MP4's index and headers add to the coded bytes (an eighth plus 1 MiB is far more than they take).
func ClipObjectLimit(maxClipBytes int64) int64 { return maxClipBytes + maxClipBytes/8 + 1<<20 }

func (c ClipsConfig) withDefaults() ClipsConfig {
	if c.MaxClipBytes <= 0 {
		c.MaxClipBytes = ClipObjectLimit(64 << 20)
	}
	if c.Queue <= 0 {
		c.Queue = 64
	}
	if c.Metrics == nil {
		c.Metrics, _ = NewClipMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// clipStreamConfig is the stream configuration behind the bucket, as nats.go's CreateObjectStore
// makes it, for the settings mvwatch checks.
func clipStreamConfig(cfg ClipsConfig, replicas int) jetstream.StreamConfig {
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:      clipsStream,
		Subjects:  []string{"$O." + ClipsBucket + ".C.>", "$O." + ClipsBucket + ".M.>"},
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
		Discard:   jetstream.DiscardNew,
		Replicas:  max(replicas, 1),
		MaxAge:    cfg.TTL,
		MaxBytes:  maxBytes,
	}
}

// ensureClipBucket creates the clip bucket or checks the existing one as EnsureStreams checks a
// stream: other subjects, retention, storage, discard policy or replicas are an ErrStreamConflict;
// other limits (TTL, max bytes) are updated on a bucket mvwatch created and a conflict on another.
func ensureClipBucket(ctx context.Context, js jetstream.JetStream, cfg ClipsConfig, replicas int) (jetstream.ObjectStore, error) {
	want := clipStreamConfig(cfg, replicas)
	s, err := js.Stream(ctx, clipsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: ClipsBucket,
			Description: "mvwatch event clips: event id -> MP4", TTL: cfg.TTL, MaxBytes: cfg.MaxBytes,
			Storage: jetstream.FileStorage, Replicas: want.Replicas, Metadata: map[string]string{ownerKey: ownerValue}})
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return ensureClipBucket(ctx, js, cfg, replicas) // another node created it meanwhile
		}
		if err != nil && strings.Contains(err.Error(), "insufficient storage") {
			return nil, fmt.Errorf("natsbus: create bucket %s: %w (clips.max_bytes, %d, does not fit in the NATS server's JetStream storage: lower it, or give the server more)",
				ClipsBucket, err, cfg.MaxBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("natsbus: create bucket %s: %w", ClipsBucket, err)
		}
		return obs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsbus: bucket %s: %w", ClipsBucket, err)
	}
	have := s.CachedInfo().Config
	want.Duplicates = have.Duplicates // nats.go leaves it to the server
	fixed, limits := streamDiff(have, want)
	owned := have.Metadata[ownerKey] == ownerValue
	if !owned {
		fixed = append(fixed, limits...)
		limits = nil
	}
	if len(fixed) > 0 {
		who := "created by mvwatch"
		if !owned {
			who = "not created by mvwatch"
		}
		return nil, fmt.Errorf("%w: object store bucket %s (stream %s, %s): %s; change or delete it (nats object rm %s) or point mvwatch at another NATS account",
			ErrStreamConflict, ClipsBucket, clipsStream, who, strings.Join(fixed, ", "), ClipsBucket)
	}
	if len(limits) > 0 {
		upd := have
		upd.MaxAge, upd.MaxBytes = want.MaxAge, want.MaxBytes
		if upd.MaxAge > 0 && upd.Duplicates > upd.MaxAge {
			upd.Duplicates = upd.MaxAge
		}
		if _, err := js.UpdateStream(ctx, upd); err != nil {
			return nil, fmt.Errorf("natsbus: update bucket %s limits (%s): %w", ClipsBucket, strings.Join(limits, ", "), err)
		}
	}
	obs, err := js.ObjectStore(ctx, ClipsBucket)
	if err != nil {
		return nil, fmt.Errorf("natsbus: bucket %s: %w", ClipsBucket, err)
	}
	return obs, nil
}

// Clips is the clip bucket: a worker puts each clip its clip store wrote (Submit: bounded, never
// blocks), every node reads them (OpenClip, Has: the API's clip reader on an events node, which has
// no clip store of its own). It watches the bucket's index, so Has asks NATS nothing. OpenClips
// builds it, Close stops it.
type Clips struct {
	cfg  ClipsConfig
	conn *Conn
	obs  jetstream.ObjectStore
	m    *ClipMetrics
	log  *slog.Logger

	mu    sync.Mutex
	index map[string]clipSeen // event id -> the clip as last seen in the bucket
	bytes int64
	cache []cachedClip // the last clips read, newest last; at most clipCacheBytes in all

	loads chan struct{} // bounds concurrent reads (each holds up to MaxClipBytes)

	up     atomic.Pointer[uploader] // set by StartUploads
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// clipSeen is one clip of the bucket's index.
type clipSeen struct {
	size uint64
	at   time.Time // when it was put: the TTL runs from here
}

type cachedClip struct {
	id   string
	data []byte
	at   time.Time
}

// clipCacheBytes bounds the clips an events node keeps in memory for the Range requests of a
// player (one request per range, each would otherwise read the object again).
const clipCacheBytes = 64 << 20

// clipLoads bounds the clips read from the bucket at once.
const clipLoads = 4

// OpenClips creates or checks the clip bucket (replicas as the streams), reads its index and
// watches it. Close it.
func OpenClips(ctx context.Context, c *Conn, replicas int, cfg ClipsConfig) (*Clips, error) {
	cfg = cfg.withDefaults()
	obs, err := ensureClipBucket(ctx, c.js, cfg, replicas)
	if err != nil {
		return nil, err
	}
	cl := &Clips{cfg: cfg, conn: c, obs: obs, m: cfg.Metrics, log: cfg.Logger.With("component", "nats-clips"),
		index: map[string]clipSeen{}, loads: make(chan struct{}, clipLoads)}
	wctx, cancel := context.WithCancel(context.Background())
	cl.cancel = cancel
	w, err := obs.Watch(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("natsbus: watch bucket %s: %w", ClipsBucket, err)
	}
	for { // the initial index, up to the nil marker
		select {
		case info, ok := <-w.Updates():
			if !ok {
				cancel()
				return nil, errors.New("natsbus: clip bucket watcher closed before its initial values")
			}
			if info != nil {
				cl.seen(info)
				continue
			}
		case <-ctx.Done():
			_ = w.Stop()
			cancel()
			return nil, fmt.Errorf("natsbus: clip bucket index: %w", ctx.Err())
		}
		break
	}
	cl.wg.Add(1)
	go func() {
		defer cl.wg.Done()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case info, ok := <-w.Updates():
				if !ok {
					return
				}
				if info != nil {
					cl.seen(info)
				}
			case <-wctx.Done():
				return
			}
		}
	}()
	return cl, nil
}

// seen applies one index entry (a put or a deletion).
func (cl *Clips) seen(info *jetstream.ObjectInfo) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if old, ok := cl.index[info.Name]; ok {
		cl.bytes -= int64(old.size)
		delete(cl.index, info.Name)
	}
	if !info.Deleted {
		cl.index[info.Name] = clipSeen{size: info.Size, at: info.ModTime}
		cl.bytes += int64(info.Size)
	}
	cl.dropCached(info.Name)
	cl.m.stored.Set(float64(len(cl.index)))
	cl.m.storedBytes.Set(float64(cl.bytes))
}

// live reports whether s has not outlived the TTL.
func (cl *Clips) live(s clipSeen) bool {
	return cl.cfg.TTL <= 0 || time.Since(s.at) < cl.cfg.TTL
}

// Has reports whether the bucket holds event id's clip (from the watched index: no NATS request).
func (cl *Clips) Has(id string) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	s, ok := cl.index[id]
	return ok && cl.live(s)
}

// Len returns the number of clips in the bucket's index.
func (cl *Clips) Len() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return len(cl.index)
}

// Size returns the bytes of the bucket's stream as the server reports them (clips and their
// index entries).
func (cl *Clips) Size(ctx context.Context) (uint64, error) {
	st, err := cl.obs.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("natsbus: bucket %s: %w", ClipsBucket, err)
	}
	return st.Size(), nil
}

// nopCloser makes a bytes.Reader an io.ReadSeekCloser.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// OpenClip returns event id's clip, read from the bucket (at most MaxClipBytes, its digest
// checked), seekable for Range requests, and the time it was put. The error wraps event.ErrNotFound
// when the bucket has none, ErrClipTooLarge for an object over the bound.
func (cl *Clips) OpenClip(ctx context.Context, id string) (io.ReadSeekCloser, time.Time, error) {
	if !event.ValidID(id) {
		cl.m.reads.WithLabelValues(ReadNotFound).Inc()
		return nil, time.Time{}, fmt.Errorf("clip %q: %w", id, event.ErrNotFound)
	}
	if data, at, ok := cl.cached(id); ok {
		cl.m.reads.WithLabelValues(ReadOK).Inc()
		return nopCloser{bytes.NewReader(data)}, at, nil
	}
	select {
	case cl.loads <- struct{}{}:
		defer func() { <-cl.loads }()
	case <-ctx.Done():
		cl.m.reads.WithLabelValues(ReadError).Inc()
		return nil, time.Time{}, fmt.Errorf("clip %s: %w", id, ctx.Err())
	}
	data, at, err := cl.load(ctx, id)
	switch {
	case errors.Is(err, event.ErrNotFound):
		cl.m.reads.WithLabelValues(ReadNotFound).Inc()
	case errors.Is(err, ErrClipTooLarge):
		cl.m.reads.WithLabelValues(ReadTooLarge).Inc()
	case err != nil:
		cl.m.reads.WithLabelValues(ReadError).Inc()
	default:
		cl.m.reads.WithLabelValues(ReadOK).Inc()
		cl.keep(id, data, at)
		return nopCloser{bytes.NewReader(data)}, at, nil
	}
	return nil, time.Time{}, err
}

func (cl *Clips) load(ctx context.Context, id string) ([]byte, time.Time, error) {
	res, err := cl.obs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, time.Time{}, fmt.Errorf("clip %s: %w", id, event.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("clip %s: bucket %s: %w", id, ClipsBucket, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("clip %s: bucket %s: %w", id, ClipsBucket, err)
	}
	if int64(info.Size) > cl.cfg.MaxClipBytes {
		return nil, time.Time{}, fmt.Errorf("clip %s: %w: %d bytes, bound %d", id, ErrClipTooLarge, info.Size, cl.cfg.MaxClipBytes)
	}
	data, err := io.ReadAll(io.LimitReader(res, cl.cfg.MaxClipBytes+1))
	if err != nil { // a digest mismatch too
		return nil, time.Time{}, fmt.Errorf("clip %s: bucket %s: %w", id, ClipsBucket, err)
	}
	if int64(len(data)) > cl.cfg.MaxClipBytes || uint64(len(data)) != info.Size {
		return nil, time.Time{}, fmt.Errorf("clip %s: bucket %s: read %d bytes of %d", id, ClipsBucket, len(data), info.Size)
	}
	return data, info.ModTime, nil
}

func (cl *Clips) cached(id string) ([]byte, time.Time, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, c := range cl.cache {
		if c.id == id {
			if s, ok := cl.index[id]; ok && !cl.live(s) {
				return nil, time.Time{}, false
			}
			return c.data, c.at, true
		}
	}
	return nil, time.Time{}, false
}

// keep caches a clip just read, dropping the oldest cached ones to stay within clipCacheBytes.
func (cl *Clips) keep(id string, data []byte, at time.Time) {
	if len(data) > clipCacheBytes/2 {
		return
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.dropCached(id)
	cl.cache = append(cl.cache, cachedClip{id: id, data: data, at: at})
	total := 0
	for _, c := range cl.cache {
		total += len(c.data)
	}
	for total > clipCacheBytes {
		total -= len(cl.cache[0].data)
		cl.cache = cl.cache[1:]
	}
}

// dropCached forgets a cached clip (replaced or deleted); cl.mu is held.
func (cl *Clips) dropCached(id string) {
	cl.cache = slices.DeleteFunc(cl.cache, func(c cachedClip) bool { return c.id == id })
}

// errBucketFull tells a put refused for the bucket's MaxBytes.
func errBucketFull(err error) bool {
	return err != nil && strings.Contains(err.Error(), "maximum bytes exceeded")
}

// put stores one clip from r (size bytes) under event id. A bucket too full for it makes room
// (the oldest clips deleted) and is asked once more.
func (cl *Clips) put(ctx context.Context, id, camera string, size int64, open func() (io.ReadCloser, error)) error {
	for attempt := 0; ; attempt++ {
		r, err := open()
		if err != nil {
			return err
		}
		info, err := cl.obs.Put(ctx, jetstream.ObjectMeta{Name: id, Description: "event clip of camera " + camera,
			Metadata: map[string]string{"camera": camera}}, r)
		_ = r.Close()
		if err == nil {
			cl.seen(info) // at once, for the next makeRoom (the watcher brings the server's time)
		}
		if err == nil || attempt > 0 || !errBucketFull(err) || cl.cfg.MaxBytes <= 0 {
			if err != nil {
				return fmt.Errorf("natsbus: put clip %s: %w", id, err)
			}
			return nil
		}
		if err := cl.makeRoom(ctx, id, size); err != nil {
			return err
		}
	}
}

// makeRoom deletes the oldest clips (older than id) until size more bytes fit within MaxBytes,
// counting with the server's size of the bucket.
func (cl *Clips) makeRoom(ctx context.Context, id string, size int64) error {
	used, err := cl.Size(ctx)
	if err != nil {
		return err
	}
	need := int64(used) + size + size/64 + 4096 - cl.cfg.MaxBytes // chunk headers and index entries
	if need <= 0 {
		return nil
	}
	cl.mu.Lock()
	ids := make([]string, 0, len(cl.index))
	for k := range cl.index {
		if k < id {
			ids = append(ids, k)
		}
	}
	slices.Sort(ids)
	var victims []string
	for _, k := range ids {
		if need <= 0 {
			break
		}
		victims = append(victims, k)
		need -= int64(cl.index[k].size)
	}
	cl.mu.Unlock()
	for _, k := range victims {
		if err := cl.obs.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("natsbus: make room in bucket %s: %w", ClipsBucket, err)
		}
		cl.m.evicted.Inc()
		cl.mu.Lock()
		if s, ok := cl.index[k]; ok {
			cl.bytes -= int64(s.size)
			delete(cl.index, k)
		}
		cl.dropCached(k)
		cl.mu.Unlock()
	}
	return nil
}

// Close stops the uploader (what it holds is put for up to ctx's time, the rest counted as
// dropped) and the index watcher. It is safe to call more than once.
func (cl *Clips) Close(ctx context.Context) {
	cl.once.Do(func() {
		if u := cl.up.Load(); u != nil {
			u.close(ctx)
		}
		cl.cancel()
		cl.wg.Wait()
	})
}
