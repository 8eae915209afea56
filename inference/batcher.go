package inference

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/internal/lifecycle"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// ErrQueueFull is returned by Submit and SubmitFunc when the batcher's queue is full: the clip is
// dropped and counted, never queued behind a blocked caller.
var ErrQueueFull = errors.New("inference: batcher queue full, clip dropped")

// ErrBatcherClosed is returned for clips submitted after Close, and for clips still queued when Close
// ran.
var ErrBatcherClosed = errors.New("inference: batcher closed")

// BatcherConfig configures a Batcher.
type BatcherConfig struct {
	// MaxBatch is the most clips one batch takes. It defaults to 8.
	MaxBatch int
	// MaxWait is how long the first clip of a partial batch waits for more before the batch runs
	// anyway. It defaults to 20ms.
	MaxWait time.Duration
	// QueueSize is the number of clips that may wait for a batch; more are refused with
	// ErrQueueFull. It defaults to 64.
	QueueSize int
	// OnDrop is called, on the submitting goroutine, for every clip refused with ErrQueueFull. It
	// defaults to none.
	OnDrop func()
}

func (c BatcherConfig) withDefaults() BatcherConfig {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 8
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 20 * time.Millisecond
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 64
	}
	return c
}

// Request states: a request leaves pending exactly once, and whoever moves it answers it.
const (
	requestPending   int32 = iota
	requestTaken           // in a running batch; the batcher answers it
	requestAnswered        // answered with an error without running
	requestAbandoned       // its Submit gave up (context done); nobody answers
)

// batchRequest is one submitted clip.
type batchRequest struct {
	clip  []float32
	state atomic.Int32
	reply chan batchReply     // Submit's; buffered, nil for SubmitFunc
	fn    func(Result, error) // SubmitFunc's
}

type batchReply struct {
	res Result
	err error
}

func (r *batchRequest) deliver(res Result, err error) {
	if r.fn != nil {
		r.fn(res, err)
		return
	}
	r.reply <- batchReply{res, err}
}

// Batcher batches clips that many cameras submit into one Classifier call: a batch runs when it
// holds MaxBatch clips or when its first clip has waited MaxWait, whichever comes first. One goroutine,
// started by Start and stopped by Close, owns the Classifier calls. The queue is bounded: a clip that
// finds it full is refused with ErrQueueFull and counted rather than blocking its camera.
//
// Submit and SubmitFunc are safe for concurrent use. The Batcher does not own the Classifier: close
// the Batcher first, then the Classifier.
type Batcher struct {
	cls   *Classifier
	cfg   BatcherConfig
	queue *queue.Queue[*batchRequest]

	mu      sync.RWMutex // guards closed and started against enqueueing
	closed  bool
	started bool

	workers *lifecycle.Group // the batch goroutine

	// Owned by the batch goroutine.
	batch []*batchRequest
	taken []*batchRequest
	clips [][]float32
	out   []Result
}

// NewBatcher returns a Batcher over cls; call Start to run it.
func NewBatcher(cls *Classifier, cfg BatcherConfig) *Batcher {
	cfg = cfg.withDefaults()
	return &Batcher{
		cls:     cls,
		cfg:     cfg,
		queue:   queue.New[*batchRequest](cfg.QueueSize, queue.Options{OnDrop: cfg.OnDrop}),
		workers: lifecycle.NewGroup(context.Background()),
		batch:   make([]*batchRequest, 0, cfg.MaxBatch),
		taken:   make([]*batchRequest, 0, cfg.MaxBatch),
		clips:   make([][]float32, 0, cfg.MaxBatch),
		out:     make([]Result, cfg.MaxBatch),
	}
}

// Config returns the configuration in use, defaults filled in.
func (b *Batcher) Config() BatcherConfig { return b.cfg }

// Start starts the batch goroutine. Clips submitted before Start wait in the queue.
func (b *Batcher) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBatcherClosed
	}
	if b.started {
		return errors.New("inference: batcher already started")
	}
	if err := b.workers.Go(b.run); err != nil {
		return ErrBatcherClosed
	}
	b.started = true
	return nil
}

// Submit queues one clip (ClipSize float32 values, see Classifier.Classify) and waits for its result.
// It returns ErrQueueFull at once when the queue is full, ErrBatcherClosed when the batcher is or gets
// closed before the clip runs, and ctx's error when ctx ends first, unless the clip is already in a
// running batch: then Submit waits for that batch (one model run) so that clip is never read after
// Submit returns, and returns its result.
func (b *Batcher) Submit(ctx context.Context, clip []float32) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r := &batchRequest{clip: clip, reply: make(chan batchReply, 1)}
	if err := b.enqueue(r); err != nil {
		return Result{}, err
	}
	select {
	case rep := <-r.reply:
		return rep.res, rep.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(requestPending, requestAbandoned) {
			return Result{}, ctx.Err()
		}
		rep := <-r.reply
		return rep.res, rep.err
	}
}

// SubmitFunc queues one clip and returns at once; fn is later called exactly once with the clip's
// result or error (ErrBatcherClosed if Close ran first), on the batcher goroutine or in Close. fn must
// be quick and must not call Close. The caller must leave clip unchanged until fn is called. An
// immediate refusal (ErrQueueFull, ErrBatcherClosed, a clip of the wrong size) is returned instead,
// and then fn is never called.
func (b *Batcher) SubmitFunc(clip []float32, fn func(Result, error)) error {
	if fn == nil {
		return errors.New("inference: SubmitFunc needs a callback")
	}
	return b.enqueue(&batchRequest{clip: clip, fn: fn})
}

// enqueue adds r to the queue without blocking.
func (b *Batcher) enqueue(r *batchRequest) error {
	if len(r.clip) != b.cls.ClipSize() {
		return fmt.Errorf("%w: clip has %d values, model wants %d", ErrBadClip, len(r.clip), b.cls.ClipSize())
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBatcherClosed
	}
	if !b.queue.Push(r) { // dropped, counted and reported to OnDrop by the queue
		return ErrQueueFull
	}
	return nil
}

// Len is the number of clips waiting in the queue.
func (b *Batcher) Len() int { return b.queue.Len() }

// Dropped is the number of clips refused with ErrQueueFull so far.
func (b *Batcher) Dropped() uint64 { return b.queue.Dropped() }

// Close stops the batcher: it refuses new clips, lets a running batch finish and answer its clips,
// then answers every queued clip with ErrBatcherClosed. It is safe to call more than once.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	_ = b.workers.Close() // run returns only the end of its context
	// No enqueue can run any more, and the goroutine is gone: the queue is ours.
	for r, ok := b.queue.TryPop(); ok; r, ok = b.queue.TryPop() {
		b.refuse(r)
	}
}

// refuse answers a still pending request with ErrBatcherClosed.
func (b *Batcher) refuse(r *batchRequest) {
	if r.state.CompareAndSwap(requestPending, requestAnswered) {
		r.deliver(Result{}, ErrBatcherClosed)
	}
}

// run is the batch goroutine.
func (b *Batcher) run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err // closing
		}
		b.batch = b.batch[:0]
		r, err := b.queue.Pop(ctx)
		if err != nil {
			return err // closing
		}
		b.batch = append(b.batch, r)
		if err := b.fill(ctx); err != nil {
			for _, r := range b.batch {
				b.refuse(r)
			}
			return err // closing
		}
		b.runBatch()
	}
}

// fill adds queued requests to b.batch until it holds MaxBatch or its first request has waited
// MaxWait. It returns ctx's error when ctx ended first.
func (b *Batcher) fill(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, b.cfg.MaxWait)
	defer cancel()
	for len(b.batch) < b.cfg.MaxBatch {
		r, err := b.queue.Pop(wait)
		if err != nil {
			return ctx.Err() // nil when only MaxWait passed
		}
		b.batch = append(b.batch, r)
	}
	return nil
}

// runBatch classifies the requests of b.batch that are still wanted and answers them.
func (b *Batcher) runBatch() {
	b.taken = b.taken[:0]
	b.clips = b.clips[:0]
	for _, r := range b.batch {
		if r.state.CompareAndSwap(requestPending, requestTaken) {
			b.taken = append(b.taken, r)
			b.clips = append(b.clips, r.clip)
		}
	}
	clear(b.batch)
	if len(b.taken) == 0 {
		return
	}
	out := b.out[:len(b.taken)]
	err := b.cls.Classify(b.clips, out)
	for i, r := range b.taken {
		if err != nil {
			r.deliver(Result{}, fmt.Errorf("inference: batch of %d clips: %w", len(b.taken), err))
			continue
		}
		res := out[i]
		res.Probs = slices.Clone(res.Probs)
		r.deliver(res, nil)
	}
	clear(b.taken)
	clear(b.clips)
}
