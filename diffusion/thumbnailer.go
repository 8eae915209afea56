package diffusion

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/lifecycle"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// ThumbnailJob asks for one event thumbnail.
type ThumbnailJob struct {
	ID     string // the caller's key (an event id); returned in the result
	Prompt string // the event caption
	Seed   uint64 // starting noise; the same seed and steps give the same image
}

// Thumbnail is a finished ThumbnailJob.
type Thumbnail struct {
	Job         ThumbnailJob
	PNG         []byte // the encoded image; nil when Err is set
	Steps       int    // denoising steps used
	Evaluations int    // UNet evaluations used
	Scheduler   string
	Duration    time.Duration
	Err         error
}

// ThumbnailerConfig configures NewThumbnailer.
type ThumbnailerConfig struct {
	// Pipeline renders the thumbnails; required. The Thumbnailer does not close it.
	Pipeline *Pipeline
	// Predictor chooses the step count per prompt when Steps is "auto"; the Thumbnailer does not close it.
	Predictor *StepPredictor
	// Steps is "auto" (the predictor), a count "1".."1000", or "" for DefaultSteps. It defaults to "auto"
	// when Predictor is set, else "".
	Steps string
	// DefaultSteps is the fixed step count that savings are counted against. It defaults to 50.
	DefaultSteps int
	// Scheduler is the scheduler name. It defaults to the pipeline's scheduler.
	Scheduler string
	// GuidanceScale is the classifier-free guidance weight; 0 uses Request's default (7.5).
	GuidanceScale float64
	// QueueSize bounds waiting jobs; Submit drops jobs beyond it. It defaults to 16.
	QueueSize int
	// Registerer receives the metrics; required (use a fresh prometheus.NewRegistry() in tests).
	Registerer prometheus.Registerer
	// OnThumbnail receives every finished job, on the Thumbnailer's goroutine; it should not block long.
	OnThumbnail func(Thumbnail)
}

// Thumbnailer renders event thumbnails on its own goroutine from a bounded queue: Submit never blocks the
// caller (detection keeps its pace); a full queue drops the job and counts it.
type Thumbnailer struct {
	cfg          ThumbnailerConfig
	metrics      *ThumbnailMetrics
	defaultEvals int

	queue   *queue.Queue[ThumbnailJob]
	workers *lifecycle.Group // the worker goroutine; Close cancels its context
}

// NewThumbnailer checks the configuration, registers the metrics and starts the worker goroutine.
func NewThumbnailer(cfg ThumbnailerConfig) (*Thumbnailer, error) {
	if cfg.Pipeline == nil || cfg.Registerer == nil {
		return nil, fmt.Errorf("diffusion: thumbnailer needs a pipeline and a registerer: %w", ErrBadConfig)
	}
	if cfg.DefaultSteps == 0 {
		cfg.DefaultSteps = 50
	}
	if cfg.Steps == "" && cfg.Predictor != nil {
		cfg.Steps = "auto"
	}
	if cfg.Scheduler == "" {
		cfg.Scheduler = cfg.Pipeline.DefaultScheduler()
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 16
	}
	// Resolve the step setting once with a probe prompt so that a bad configuration fails here.
	if _, err := ChooseSteps(cfg.Predictor, "probe", cfg.Scheduler, cfg.Steps, cfg.DefaultSteps); err != nil {
		return nil, err
	}
	s, err := NewScheduler(cfg.Scheduler, cfg.Pipeline.schedulerConfig)
	if err != nil {
		return nil, err
	}
	defaultEvals, err := Evaluations(s, cfg.DefaultSteps)
	if err != nil {
		return nil, err
	}
	m, err := NewThumbnailMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	m.Steps.WithLabelValues(cfg.Scheduler) // present from start, at zero
	t := &Thumbnailer{cfg: cfg, metrics: m, defaultEvals: defaultEvals,
		queue:   queue.New[ThumbnailJob](cfg.QueueSize, queue.Options{Drops: m.Dropped}),
		workers: lifecycle.NewGroup(context.Background())}
	if err := t.workers.Go(t.run); err != nil {
		return nil, err
	}
	return t, nil
}

// Metrics returns the Thumbnailer's metrics.
func (t *Thumbnailer) Metrics() *ThumbnailMetrics { return t.metrics }

// Submit queues a job without blocking. It returns false, counting a drop, when the queue is full or the
// Thumbnailer is closed.
func (t *Thumbnailer) Submit(job ThumbnailJob) bool {
	if t.workers.Context().Err() != nil {
		t.queue.Drop()
		return false
	}
	return t.queue.Push(job)
}

// Close stops the worker: the running thumbnail is cancelled, queued jobs are discarded, and Close returns
// after the goroutine has ended.
func (t *Thumbnailer) Close() {
	_ = t.workers.Close() // run returns only the end of its context
}

func (t *Thumbnailer) run(ctx context.Context) error {
	for {
		job, err := t.queue.Pop(ctx)
		if err != nil {
			return err // the end of ctx: closing
		}
		th := t.Render(ctx, job)
		if err := ctx.Err(); err != nil {
			return err // closed while rendering: the thumbnail is not reported
		}
		if t.cfg.OnThumbnail != nil {
			t.cfg.OnThumbnail(th)
		}
	}
}

// Render makes one thumbnail synchronously (what the worker runs for each job), recording the metrics.
func (t *Thumbnailer) Render(ctx context.Context, job ThumbnailJob) Thumbnail {
	start := time.Now()
	th := Thumbnail{Job: job, Scheduler: t.cfg.Scheduler}
	th.Err = func() error {
		steps, err := ChooseSteps(t.cfg.Predictor, job.Prompt, t.cfg.Scheduler, t.cfg.Steps, t.cfg.DefaultSteps)
		if err != nil {
			return err
		}
		res, err := t.cfg.Pipeline.Generate(ctx, Request{Prompt: job.Prompt, Steps: steps,
			Scheduler: t.cfg.Scheduler, GuidanceScale: t.cfg.GuidanceScale, Seed: job.Seed})
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := EncodeImage(&buf, res.Image, "png"); err != nil {
			return err
		}
		th.PNG, th.Steps, th.Evaluations = buf.Bytes(), res.Steps, res.Evaluations
		return nil
	}()
	th.Duration = time.Since(start)
	if th.Err != nil {
		t.metrics.Results.WithLabelValues("error").Inc()
		return th
	}
	t.metrics.Results.WithLabelValues("ok").Inc()
	t.metrics.Steps.WithLabelValues(t.cfg.Scheduler).Observe(float64(th.Steps))
	t.metrics.Evaluations.Add(float64(th.Evaluations))
	if saved := t.defaultEvals - th.Evaluations; saved > 0 {
		t.metrics.Saved.Add(float64(saved))
	}
	t.metrics.Seconds.Observe(th.Duration.Seconds())
	return th
}
