// Package store is the embedded event store: a bbolt file that survives restarts, with retention,
// queries and durable caption and thumbnail updates. It owns mvwatch_store_write_seconds.
package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/mvwatch/mvwatch/internal/event"
)

// ErrNotFound is event.ErrNotFound, which the store's lookups wrap.
var ErrNotFound = event.ErrNotFound

var (
	bucketEvents    = []byte("events")
	bucketKeyframes = []byte("keyframes")
	bucketThumbs    = []byte("thumbnails")
	bucketMeta      = []byte("meta")
	bucketCameras   = []byte("cameras")
	keyCount        = []byte("count")
)

// Options configures a Store.
type Options struct {
	// MaxAge drops events whose Start is older than this. It defaults to 0: keep forever.
	MaxAge time.Duration
	// MaxEvents keeps at most this many events, dropping the oldest Start first. It defaults to 0:
	// no limit.
	MaxEvents int
	// PruneInterval is how often the MaxAge retention runs. It defaults to 1 minute.
	PruneInterval time.Duration
	// Now returns the current time. It defaults to time.Now (tests replace it).
	Now func() time.Time
	// Logger logs retention failures. It defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives the duration of every durable write.
	Metrics *Metrics
}

// Store is the embedded event store: a bbolt file that survives restarts. Events are keyed by ID, so
// they sort by start time; keyframe JPEGs and thumbnail PNGs live in their own buckets. Publish returns only after the
// write is committed and fsync'd. Retention drops events by age (in the background) and by count
// (on every write). Safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options

	cancel context.CancelFunc
	done   chan struct{}
	close  sync.Once
}

// Open opens (creating if needed) the store at path, runs retention once and starts the
// background retention. Close it.
func Open(path string, opts Options) (*Store, error) {
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxAge < 0 || opts.MaxEvents < 0 {
		return nil, errors.New("store: negative retention")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEvents, bucketKeyframes, bucketThumbs, bucketMeta, bucketCameras} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("store: init %s: %w", path, err), db.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{db: db, opts: opts, cancel: cancel, done: make(chan struct{})}
	if _, err := s.Prune(); err != nil {
		cancel()
		return nil, errors.Join(err, db.Close())
	}
	go s.run(ctx)
	return s, nil
}

func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Prune(); err != nil {
				s.opts.Logger.Error("event store retention failed", "err", err)
			}
		}
	}
}

// Close stops the retention goroutine and closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		s.cancel()
		<-s.done
		err = s.db.Close()
	})
	return err
}

// Publish stores ev (and its keyframe) durably: it returns nil only once the transaction is committed
// and fsync'd. Concurrent calls are batched into one transaction. Storing an ID again replaces it
// (its stored thumbnail is kept only while the new event still has a ThumbnailRef).
func (s *Store) Publish(ctx context.Context, ev event.Event) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	start := time.Now()
	jpeg := ev.Keyframe
	ev.Keyframe = nil
	if len(jpeg) > 0 {
		ev.KeyframeRef = event.KeyframePath(ev.ID)
	}
	val, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("store: encode event: %w", err)
	}
	key := []byte(ev.ID)
	// Batch may run the function more than once: it must be idempotent.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		existed := events.Get(key) != nil
		if err := events.Put(key, val); err != nil {
			return err
		}
		kf := tx.Bucket(bucketKeyframes)
		if len(jpeg) > 0 {
			if err := kf.Put(key, jpeg); err != nil {
				return err
			}
		} else if err := kf.Delete(key); err != nil {
			return err
		}
		if ev.ThumbnailRef == "" {
			if err := tx.Bucket(bucketThumbs).Delete(key); err != nil {
				return err
			}
		}
		n := count(tx)
		if !existed {
			n++
		}
		if s.opts.MaxEvents > 0 && n > uint64(s.opts.MaxEvents) {
			dropped, err := deleteOldest(tx, func(_ []byte, i int) bool { return uint64(i) < n-uint64(s.opts.MaxEvents) })
			if err != nil {
				return err
			}
			n -= uint64(dropped)
		}
		return setCount(tx, n)
	})
	if err != nil {
		return fmt.Errorf("store: write event %s: %w", ev.ID, err)
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.WriteSeconds.Observe(time.Since(start).Seconds())
	}
	return nil
}

func count(tx *bolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keyCount)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func setCount(tx *bolt.Tx, n uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return tx.Bucket(bucketMeta).Put(keyCount, b[:])
}

// deleteOldest deletes events from the oldest while more(key, i) holds for the i-th (0-based) one.
func deleteOldest(tx *bolt.Tx, more func(key []byte, i int) bool) (int, error) {
	kf, th := tx.Bucket(bucketKeyframes), tx.Bucket(bucketThumbs)
	c := tx.Bucket(bucketEvents).Cursor()
	i := 0
	for k, _ := c.First(); k != nil && more(k, i); k, _ = c.First() {
		if err := kf.Delete(k); err != nil {
			return i, err
		}
		if err := th.Delete(k); err != nil {
			return i, err
		}
		if err := c.Delete(); err != nil {
			return i, err
		}
		i++
	}
	return i, nil
}

// Prune drops the events older than MaxAge now; it returns how many. The store runs it periodically.
func (s *Store) Prune() (int, error) {
	if s.opts.MaxAge <= 0 {
		return 0, nil
	}
	limit := event.TimeKey(s.opts.Now().Add(-s.opts.MaxAge))
	var dropped int
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		dropped, err = deleteOldest(tx, func(k []byte, _ int) bool { return bytes.Compare(k, limit) < 0 })
		if err != nil || dropped == 0 {
			return err
		}
		n := count(tx)
		return setCount(tx, n-min(n, uint64(dropped)))
	})
	if err != nil {
		return 0, fmt.Errorf("store: retention: %w", err)
	}
	return dropped, nil
}

// Count returns the number of stored events.
func (s *Store) Count() (int, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error { n = count(tx); return nil })
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return int(n), nil
}

// Get returns the event id (without its keyframe bytes).
func (s *Store) Get(id string) (event.Event, error) {
	var ev event.Event
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEvents).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &ev)
	})
	if err != nil {
		return event.Event{}, fmt.Errorf("store: event %q: %w", id, err)
	}
	return ev, nil
}

// Keyframe returns the keyframe JPEG of event id.
func (s *Store) Keyframe(id string) ([]byte, error) {
	return s.blob(bucketKeyframes, "keyframe", id)
}

// Thumbnail returns the thumbnail PNG of event id.
func (s *Store) Thumbnail(id string) ([]byte, error) {
	return s.blob(bucketThumbs, "thumbnail", id)
}

func (s *Store) blob(bucket []byte, what, id string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s %q: %w", what, id, err)
	}
	return out, nil
}

// SetCaption sets the caption of stored event id durably (committed and fsync'd before it returns) and
// returns the updated event. An event no longer stored (retention) gives ErrNotFound.
func (s *Store) SetCaption(ctx context.Context, id, caption string) (event.Event, error) {
	if err := event.CheckCaption(caption); err != nil {
		return event.Event{}, fmt.Errorf("store: caption of %s: %w", id, err)
	}
	return s.update(ctx, id, func(_ *bolt.Tx, ev *event.Event) error {
		ev.Caption = caption
		return nil
	})
}

// SetThumbnail stores the thumbnail PNG of stored event id apart from the event (as keyframes are) and
// sets the event's ThumbnailRef, in one durable transaction; it returns the updated event. An event no
// longer stored gives ErrNotFound.
func (s *Store) SetThumbnail(ctx context.Context, id string, png []byte) (event.Event, error) {
	if err := event.CheckThumbnail(png); err != nil {
		return event.Event{}, fmt.Errorf("store: thumbnail of %s: %w", id, err)
	}
	return s.update(ctx, id, func(tx *bolt.Tx, ev *event.Event) error {
		ev.ThumbnailRef = event.ThumbnailPath(id)
		return tx.Bucket(bucketThumbs).Put([]byte(id), png)
	})
}

// update applies fn to stored event id and writes it back in one batched, durable transaction.
func (s *Store) update(ctx context.Context, id string, fn func(tx *bolt.Tx, ev *event.Event) error) (event.Event, error) {
	if err := ctx.Err(); err != nil {
		return event.Event{}, fmt.Errorf("store: %w", err)
	}
	var out event.Event
	key := []byte(id)
	// Batch may run the function more than once: it reads the event afresh each time.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		v := events.Get(key)
		if v == nil {
			return ErrNotFound
		}
		var ev event.Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		if err := fn(tx, &ev); err != nil {
			return err
		}
		val, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		out = ev
		return events.Put(key, val)
	})
	if err != nil {
		return event.Event{}, fmt.Errorf("store: update event %q: %w", id, err)
	}
	return out, nil
}
