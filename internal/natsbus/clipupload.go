package natsbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mvwatch/mvwatch/internal/backoff"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// ClipSource opens a clip the worker stored on its disk (clip.Store.Open): the file and its
// information; an error when it is gone.
type ClipSource func(id string) (*os.File, os.FileInfo, error)

// putAttempts bounds the tries of one clip put that fails for a transient reason while NATS is
// connected (a timeout, a cluster electing its leader): about a minute and a half of backoff, then
// it is dropped (counted "failed"). While the connection is down the uploader waits for it without
// counting attempts: the queue bounds what waits (further clips are dropped as "full").
const putAttempts = 8

// uploader is the worker's one goroutine putting stored clips into the bucket, from a bounded
// queue of event ids (the bytes stay in the clip store until they are read for the put).
type uploader struct {
	cl  *Clips
	src ClipSource
	q   *queue.Queue[clipJob]

	ctx     context.Context // aborts the put in flight at the end of Close
	abort   context.CancelFunc
	stopPop context.CancelFunc
	popCtx  context.Context
	done    chan struct{}

	mu     sync.Mutex
	closed bool
}

type clipJob struct{ id, camera string }

// StartUploads starts putting the clips that Submit names, read with src. Call it once, before
// Submit; Close stops it.
func (cl *Clips) StartUploads(src ClipSource) {
	u := &uploader{cl: cl, src: src, done: make(chan struct{}),
		q: queue.New[clipJob](cl.cfg.Queue, queue.Options{Drops: cl.m.dropped.WithLabelValues(ClipDropFull), Depth: cl.m.queue})}
	u.ctx, u.abort = context.WithCancel(context.Background())
	u.popCtx, u.stopPop = context.WithCancel(u.ctx)
	if !cl.up.CompareAndSwap(nil, u) {
		u.abort() // started already
		return
	}
	go u.run()
}

// Submit queues the clip of event id (camera's), just stored by the worker's clip store, for the
// bucket. It never blocks: a full queue drops it (counted in
// mvwatch_bus_clip_puts_dropped_total{reason="full"}) and returns false.
func (cl *Clips) Submit(id, camera string) bool {
	u := cl.up.Load()
	if u == nil {
		return false
	}
	u.mu.Lock()
	closed := u.closed
	u.mu.Unlock()
	if closed {
		cl.m.dropped.WithLabelValues(ClipDropClosed).Inc()
		return false
	}
	if !u.q.Push(clipJob{id: id, camera: camera}) {
		if n := u.q.Dropped(); n == 1 || n%100 == 0 {
			cl.log.Warn("event clip not put in the clip bucket: its queue is full", "event", id, "camera", camera, "dropped", n)
		}
		return false
	}
	return true
}

func (u *uploader) run() {
	defer close(u.done)
	for {
		j, err := u.q.Pop(u.popCtx)
		if err != nil { // closing: what is queued, until Close's deadline aborts
			for {
				j, ok := u.q.TryPop()
				if !ok {
					return
				}
				if u.ctx.Err() != nil {
					u.cl.m.dropped.WithLabelValues(ClipDropClosed).Inc()
					continue
				}
				u.upload(j)
			}
		}
		u.upload(j)
	}
}

// upload puts one clip, retrying transient failures with backoff.
func (u *uploader) upload(j clipJob) {
	cl := u.cl
	bo := backoff.Backoff{Initial: 250 * time.Millisecond, Max: 20 * time.Second, Jitter: backoff.EqualJitter}
	// While the connection is down, look again often: the put goes as soon as NATS is back.
	away := backoff.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: backoff.EqualJitter}
	for attempt := 1; ; {
		if !cl.conn.nc.IsConnected() { // NATS away: wait for it (the queue bounds what waits)
			cl.m.retries.Inc()
			if !u.pause(&away) {
				cl.m.dropped.WithLabelValues(ClipDropClosed).Inc()
				return
			}
			continue
		}
		start := time.Now()
		size, err := u.put(j)
		if err == nil {
			cl.m.put.Inc()
			cl.m.putBytes.Add(float64(size))
			cl.m.putSeconds.Observe(time.Since(start).Seconds())
			cl.log.Debug("event clip put in the clip bucket", "event", j.id, "bytes", size)
			return
		}
		reason := ""
		var apiErr *jetstream.APIError
		switch {
		case errors.Is(err, errClipGone):
			reason = ClipDropGone
		case errors.Is(err, ErrClipTooLarge):
			reason = ClipDropTooLarge
		case errBucketFull(err) || errors.As(err, &apiErr) && apiErr.Code != 503:
			// The bucket said no (over its bound after making room, ...): asking again will not
			// help. A 503 that is not the bound (a cluster electing its leader) is worth a retry.
			reason = ClipDropRefused
		case u.ctx.Err() != nil:
			reason = ClipDropClosed
		case attempt >= putAttempts:
			reason = ClipDropFailed
		}
		if reason != "" {
			cl.m.dropped.WithLabelValues(reason).Inc()
			cl.log.Warn("event clip not put in the clip bucket", "event", j.id, "camera", j.camera, "reason", reason, "err", err)
			return
		}
		cl.m.retries.Inc()
		attempt++
		u.pause(&bo)
	}
}

// pause waits bo's next pause; false when Close aborted it.
func (u *uploader) pause(bo *backoff.Backoff) bool {
	t := time.NewTimer(bo.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-u.ctx.Done():
		return false
	}
}

// errClipGone marks a clip the worker's store no longer has (deleted by its retention meanwhile).
var errClipGone = errors.New("clip no longer in the worker's clip store")

func (u *uploader) put(j clipJob) (int64, error) {
	f, fi, err := u.src(j.id)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errClipGone, err)
	}
	_ = f.Close()
	size := fi.Size()
	if size > u.cl.cfg.MaxClipBytes {
		return 0, fmt.Errorf("clip %s: %w: %d bytes, bound %d", j.id, ErrClipTooLarge, size, u.cl.cfg.MaxClipBytes)
	}
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second+time.Duration(size/(1<<20))*time.Second)
	defer cancel()
	err = u.cl.put(ctx, j.id, j.camera, size, func() (io.ReadCloser, error) {
		f, _, err := u.src(j.id)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errClipGone, err)
		}
		return f, nil
	})
	return size, err
}

// close stops accepting clips, puts what is queued until ctx ends, then aborts and waits.
func (u *uploader) close(ctx context.Context) {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.stopPop()
	select {
	case <-u.done:
	case <-ctx.Done():
		u.abort()
		<-u.done
	}
	u.abort()
}
