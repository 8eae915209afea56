package llmgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/lifecycle"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// ErrClosed is returned by a Captioner after Close.
var ErrClosed = errors.New("llmgen: captioner closed")

// CaptionerConfig configures a Captioner.
type CaptionerConfig struct {
	// TargetDir is the target model directory (see LoadModel). It defaults to models/caption/target.
	TargetDir string
	// DraftDir is the draft model directory; "none" decodes with the target alone. It defaults to
	// models/caption/draft.
	DraftDir string
	// Sampling is the decoding setting. It defaults to greedy.
	Sampling Sampling
	// Generator sets token limits and the draft length. MaxNewTokens defaults to 64.
	Generator GeneratorConfig
	// QueueSize bounds the events waiting for a caption; Submit drops beyond it. It defaults to 64.
	QueueSize int
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives errors and drop notices (at most one drop line per second). It defaults to
	// slog.Default().
	Logger *slog.Logger
	// OnCaption receives every caption made from a submitted event, on the worker goroutine.
	OnCaption func(Caption)
	// VerbatimNames passes camera names and zones to the models as they are. By default they go through
	// stand-ins (StandInCamera, StandInZone) that the shipped models copy reliably, and the real names
	// are written back into the caption.
	VerbatimNames bool
}

// Caption is the caption of one event.
type Caption struct {
	// Event is the captioned event.
	Event Event
	// Text is the caption, trimmed.
	Text string
	// Duration is the generation time.
	Duration time.Duration
	// Stats counts the decoding work.
	Stats Stats
	// Finish says why decoding stopped.
	Finish string
	// Err is set when captioning failed.
	Err error
}

// Captioner captions events with speculative decoding. Submit never blocks: events queue up to
// QueueSize and are dropped and counted beyond it. One worker goroutine, started by Start and stopped
// by Close, decodes them in order.
type Captioner struct {
	cfg     CaptionerConfig
	target  *Model
	draft   *Model
	mu      sync.Mutex // guards gen and the models' caches
	gen     *Generator
	m       *metrics
	queue   *queue.Queue[Event]
	logger  *slog.Logger
	total   Stats
	lastLog atomic.Int64 // unix nanoseconds of the last drop line

	workers *lifecycle.Group // the worker goroutine
	started bool
	closed  bool
}

// NewCaptioner loads the models and registers the metrics. inference.Init must have succeeded.
func NewCaptioner(cfg CaptionerConfig) (*Captioner, error) {
	if cfg.TargetDir == "" {
		cfg.TargetDir = "models/caption/target"
	}
	if cfg.DraftDir == "" {
		cfg.DraftDir = "models/caption/draft"
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Sampling.Validate(); err != nil {
		return nil, err
	}
	target, err := LoadModel(cfg.TargetDir, DecoderConfig{})
	if err != nil {
		return nil, err
	}
	var draft *Model
	if cfg.DraftDir != "none" {
		draft, err = LoadModel(cfg.DraftDir, DecoderConfig{})
		if err != nil {
			return nil, errors.Join(err, target.Close())
		}
	}
	closeModels := func() error {
		err := target.Close()
		if draft != nil {
			err = errors.Join(err, draft.Close())
		}
		return err
	}
	gen, err := NewGenerator(target, draft, cfg.Generator)
	if err != nil {
		return nil, errors.Join(err, closeModels())
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("llmgen: register metrics: %w", err), closeModels())
	}
	c := &Captioner{cfg: cfg, target: target, draft: draft, gen: gen, m: m, logger: cfg.Logger,
		queue:   queue.New[Event](cfg.QueueSize, queue.Options{Drops: m.dropped, Depth: m.queueLen}),
		workers: lifecycle.NewGroup(context.Background())}
	m.draftLen.Set(float64(gen.K()))
	return c, nil
}

// Start launches the worker goroutine.
func (c *Captioner) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return errors.New("llmgen: captioner already started")
	}
	if err := c.workers.Go(c.run); err != nil {
		return ErrClosed // Close has begun
	}
	c.started = true
	return nil
}

// Submit queues ev for captioning and reports whether it was queued; a full queue drops it and
// counts the drop. It never blocks.
func (c *Captioner) Submit(ev Event) bool {
	if c.workers.Context().Err() != nil {
		return false
	}
	if c.queue.Push(ev) {
		return true
	}
	// Dropped and counted by the queue. Rate-limited without c.mu, which a running generation holds:
	// Submit must not wait for it.
	now, last := time.Now().UnixNano(), c.lastLog.Load()
	if now-last >= int64(time.Second) && c.lastLog.CompareAndSwap(last, now) {
		c.logger.Warn("caption queue full, event dropped", "camera", ev.Camera, "queue", c.cfg.QueueSize)
	}
	return false
}

func (c *Captioner) run(ctx context.Context) error {
	for {
		ev, err := c.queue.Pop(ctx)
		if err != nil {
			return err // the end of ctx: closing
		}
		cp := c.Caption(ev)
		if cp.Err != nil && !errors.Is(cp.Err, ErrClosed) {
			c.logger.Error("caption failed", "camera", ev.Camera, "err", cp.Err)
		}
		if c.cfg.OnCaption != nil {
			c.cfg.OnCaption(cp)
		}
	}
}

// Caption captions ev now, on the caller's goroutine (the worker uses it too; calls are serialised).
func (c *Captioner) Caption(ev Event) Caption {
	cp := Caption{Event: ev}
	if err := ev.Validate(); err != nil {
		cp.Err = err
		c.m.captions.WithLabelValues("error").Inc()
		return cp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cp.Err = ErrClosed
		return cp
	}
	in, relexicalize := ev, func(s string) string { return s }
	if !c.cfg.VerbatimNames {
		in, relexicalize = delexicalize(ev)
	}
	prompt := c.target.Tokenizer.Encode(in.Prompt())
	start := time.Now()
	var res Result
	var err error
	if c.draft != nil {
		res, err = c.gen.Speculative(prompt, c.cfg.Sampling)
	} else {
		res, err = c.gen.Autoregressive(prompt, c.cfg.Sampling)
	}
	cp.Duration = time.Since(start)
	cp.Stats, cp.Finish = res.Stats, res.Finish
	if err == nil {
		var text string
		text, err = c.target.Tokenizer.Decode(res.Tokens)
		cp.Text = strings.TrimSpace(relexicalize(text))
	}
	if err != nil {
		cp.Err = fmt.Errorf("llmgen: caption %s: %w", ev.Camera, err)
		c.m.captions.WithLabelValues("error").Inc()
		return cp
	}
	c.observe(cp)
	return cp
}

// observe updates the metrics; c.mu is held.
func (c *Captioner) observe(cp Caption) {
	s := cp.Stats
	c.total.Add(s)
	c.m.captions.WithLabelValues("ok").Inc()
	c.m.tokens.Add(float64(s.Generated))
	c.m.seconds.Add(cp.Duration.Seconds())
	if cp.Duration > 0 {
		c.m.tokensPerSec.Set(float64(s.Generated) / cp.Duration.Seconds())
	}
	c.m.drafted.Add(float64(s.Drafted))
	c.m.accepted.Add(float64(s.Accepted))
	c.m.rounds.Add(float64(s.Rounds))
	c.m.acceptRate.Set(c.total.AcceptanceRate())
	c.m.meanAccepted.Set(c.total.MeanAccepted())
	c.m.draftLen.Set(float64(c.gen.K()))
}

// Close stops the worker (events still queued are dropped), waits for it and frees the models.
func (c *Captioner) Close() error {
	_ = c.workers.Close() // run returns only the end of its context
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.target.Close()
	if c.draft != nil {
		err = errors.Join(err, c.draft.Close())
	}
	return err
}
