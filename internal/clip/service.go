package clip

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// writeQueue bounds the finished recordings waiting for the writer (each at most MaxClipBytes).
const writeQueue = 4

// pruneInterval is how often the age retention runs.
const pruneInterval = time.Minute

// Options configures a Service.
type Options struct {
	// Config is the clips section (its defaults applied). Required.
	Config config.Clips
	// Dir is the clip folder (config.Clips.DirFor). Required.
	Dir string
	// Metrics are the clips' metrics (NewMetrics). Required.
	Metrics *Metrics
	// OnStored, when set, is called on the writer goroutine with each clip just stored (fsync'd
	// and renamed into place): a NATS worker hands it to the clip bucket's uploader. It must not
	// block.
	OnStored func(id, camera string)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service records the clips of every camera's events and stores them: Recorder gives each camera
// its recorder, one writer goroutine remuxes finished recordings into the Store. New builds it,
// Start opens the store and starts the writer, Close writes what is queued and stops.
type Service struct {
	cfg     config.Clips
	dir     string
	metrics *Metrics
	log     *slog.Logger
	store   *Store
	q       *queue.Queue[*job]
	// onStored is Options.OnStored (nil: none).
	onStored func(id, camera string)

	// pending counts the jobs submitted and not yet written, for Flush; recorders are the cameras'
	// open recorders, for the stall check.
	mu        sync.Mutex
	pending   int
	idle      *sync.Cond
	recorders map[*Recorder]struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

// job is one finished recording on its way to the store.
type job struct {
	id, camera string
	aus        []media.AccessUnit
	first      time.Time
}

// New builds the service; it starts nothing.
func New(opts Options) (*Service, error) {
	if opts.Dir == "" || opts.Metrics == nil {
		return nil, errors.New("clip: Options needs Dir and Metrics")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Service{cfg: opts.Config.WithDefaults(), dir: opts.Dir, metrics: opts.Metrics, log: opts.Logger, onStored: opts.OnStored}
	s.idle = sync.NewCond(&s.mu)
	s.recorders = map[*Recorder]struct{}{}
	s.q = queue.New[*job](writeQueue, queue.Options{Drops: opts.Metrics.QueueDrops, Depth: opts.Metrics.QueueDepth})
	return s, nil
}

// Start opens the store (applying the retention once) and starts the writer and the age retention.
func (s *Service) Start() error {
	var maxAge time.Duration
	if s.cfg.MaxAge != nil {
		maxAge = s.cfg.MaxAge.D()
	}
	var maxBytes int64
	if s.cfg.MaxBytes != nil {
		maxBytes = *s.cfg.MaxBytes
	}
	st, err := OpenStore(StoreOptions{Dir: s.dir, MaxAge: maxAge, MaxBytes: maxBytes, Metrics: s.metrics})
	if err != nil {
		return err
	}
	s.store = st
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.run(ctx)
	return nil
}

// Store returns the clip store (nil before Start).
func (s *Service) Store() *Store { return s.store }

// Recorder returns a new recorder for camera; Close it when the camera stops.
func (s *Service) Recorder(camera string) *Recorder {
	r := newRecorder(s, camera)
	s.mu.Lock()
	s.recorders[r] = struct{}{}
	s.mu.Unlock()
	return r
}

func (s *Service) forget(r *Recorder) {
	s.mu.Lock()
	delete(s.recorders, r)
	s.mu.Unlock()
}

// expire finishes the recordings of streams that stopped before their post-roll came.
func (s *Service) expire() {
	s.mu.Lock()
	rs := make([]*Recorder, 0, len(s.recorders))
	for r := range s.recorders {
		rs = append(rs, r)
	}
	s.mu.Unlock()
	now := time.Now()
	for _, r := range rs {
		r.expire(now)
	}
}

// submit queues a finished recording; a full queue drops it (counted).
func (s *Service) submit(j *job) {
	s.mu.Lock()
	s.pending++
	s.mu.Unlock()
	if !s.q.Push(j) {
		s.metrics.Failed.WithLabelValues(FailQueueFull).Inc()
		if n := s.q.Dropped(); n == 1 || n%100 == 0 {
			s.log.Warn("event clip dropped: the clip writer is behind", "camera", j.camera, "event", j.id, "dropped", n)
		}
		s.written()
	}
}

func (s *Service) written() {
	s.mu.Lock()
	s.pending--
	if s.pending == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// Flush waits until every recording submitted so far is written (or failed).
func (s *Service) Flush() {
	s.mu.Lock()
	for s.pending > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// run writes queued recordings, finishes stalled ones every second and runs the age retention, until
// Close.
func (s *Service) run(ctx context.Context) {
	defer close(s.done)
	lastPrune, lastExpire := time.Now(), time.Now()
	for {
		wait, cancel := context.WithTimeout(ctx, time.Second)
		j, err := s.q.Pop(wait)
		cancel()
		if err == nil {
			s.write(j)
		}
		if ctx.Err() != nil {
			for { // what the cameras finished while stopping
				j, ok := s.q.TryPop()
				if !ok {
					return
				}
				s.write(j)
			}
		}
		if time.Since(lastExpire) >= time.Second {
			lastExpire = time.Now()
			s.expire()
		}
		if time.Since(lastPrune) >= pruneInterval {
			lastPrune = time.Now()
			if _, err := s.store.Prune(); err != nil {
				s.log.Error("clip retention failed", "err", err)
			}
		}
	}
}

// write remuxes one recording into the store.
func (s *Service) write(j *job) {
	defer s.written()
	start := time.Now()
	meta := map[string]string{
		"title":         j.id,
		"comment":       j.first.UTC().Format(time.RFC3339Nano),
		"creation_time": j.first.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
	var muxErr error
	_, err := s.store.Put(j.id, func(path string) error {
		_, muxErr = demux.WriteMP4(path, j.aus, meta)
		return muxErr
	})
	switch {
	case err == nil:
		s.metrics.Written.Inc()
		s.metrics.WriteSeconds.Observe(time.Since(start).Seconds())
		if s.onStored != nil {
			s.onStored(j.id, j.camera)
		}
		return
	case muxErr != nil:
		s.metrics.Failed.WithLabelValues(FailMux).Inc()
	case errors.Is(err, ErrTooLarge):
		s.metrics.Failed.WithLabelValues(FailTooLarge).Inc()
	default:
		s.metrics.Failed.WithLabelValues(FailStore).Inc()
	}
	s.log.Warn("event clip not stored", "camera", j.camera, "event", j.id, "err", err)
}

// Close writes the recordings still queued and stops the writer. Close the cameras' recorders
// first. It is safe to call more than once, and before Start.
func (s *Service) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	<-s.done
	s.cancel = func() {}
	return nil
}
