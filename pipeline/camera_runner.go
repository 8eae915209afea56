package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/mvextract"
)

// Classifier is what cameras need from inference: one clip tensor in, one decision out. Calls come from
// many cameras at once and may be batched (the service wraps inference.Batcher in one).
type Classifier interface {
	Classify(ctx context.Context, clip []float32) (Classification, error)
}

// cameraDeps are what every camera runner shares.
type cameraDeps struct {
	features   mvextract.FeatureSpec
	classifier Classifier
	thresholds Thresholds
	idleLabels map[string]bool
	publish    func(Event) // the service's event writer; must not block for long
	metrics    *Metrics
	log        *slog.Logger
	// onAccessUnit, when set, sees every access unit (the restream server). It must not block.
	onAccessUnit func(camera string, au ingest.AccessUnit)
	// onRemove, when set, is called after a camera is removed at run time.
	onRemove func(camera string)
	// jobQueue is the number of clips a camera may have waiting for inference; more are dropped.
	jobQueue int
}

// cameraRunner runs one RTSP camera: the ingest client pulls and reconnects, its delivery goroutine
// decodes, extracts, gates and assembles clips, and a second goroutine sends the clips to the
// classifier and turns the answers into events. Decoding never waits for inference: clips that find the
// queue full are dropped and counted.
type cameraRunner struct {
	cfg  CameraConfig
	deps *cameraDeps
	log  *slog.Logger

	client *ingest.Client
	dec    *demux.Decoder
	proc   *processor
	jobs   *queue.Queue[*clipJob]

	// Owned by the delivery goroutine: the client counters already added to the metrics.
	lostSeen, reconnectsSeen uint64
	lastCounters             time.Time
	hwChecked                bool

	mu     sync.Mutex
	state  CameraState
	frames atomic.Uint64
	last   atomic.Int64 // unix nanoseconds of the last decoded frame

	cancel context.CancelFunc
	done   chan struct{}
}

// startCamera starts a runner for cfg; stop ends it.
func startCamera(cfg CameraConfig, deps *cameraDeps) (*cameraRunner, error) {
	r := &cameraRunner{cfg: cfg, deps: deps, log: deps.log.With("camera", cfg.Name), done: make(chan struct{})}
	r.state = CameraState{Name: cfg.Name, Phase: PhaseStarting, Since: time.Now()}
	qo := queue.Options{}
	if m := deps.metrics; m != nil {
		qo.Drops = m.QueueDrops.WithLabelValues("inference", cfg.Name)
		qo.Depth = m.QueueDepth.WithLabelValues("inference", cfg.Name)
	}
	r.jobs = queue.New[*clipJob](deps.jobQueue, qo)
	proc, err := newProcessor(cfg.Name, deps.features, cfg.Gate, deps.metrics, r.jobs.Push)
	if err != nil {
		return nil, err
	}
	r.proc = proc
	r.setPhase(PhaseStarting, "")
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.client = ingest.NewClient(ingest.ClientConfig{
		URL:           cfg.URL,
		Camera:        cfg.Name,
		Transport:     cfg.Transport,
		OnAccessUnit:  r.onAccessUnit,
		OnStateChange: r.onClientState,
		Log:           deps.log, // the client names the camera itself
	})
	go r.inferLoop(ctx)
	r.client.Start()
	return r, nil
}

// stop closes the client, waits for the inference goroutine and publishes the camera's open event.
func (r *cameraRunner) stop() {
	r.client.Close()
	r.cancel()
	<-r.done
	if r.dec != nil {
		r.dec.Close()
	}
	r.setPhase(PhaseStopped, "")
}

// onClientState maps the ingest client's states onto camera phases.
func (r *cameraRunner) onClientState(st ingest.ClientState) {
	switch st.State {
	case ingest.StateStreaming:
		r.setPhase(PhaseRunning, "")
	case ingest.StateBackoff:
		r.setPhase(PhaseReconnecting, st.Reason)
	case ingest.StateConnecting:
		r.mu.Lock()
		first := r.state.Phase == PhaseStarting
		r.mu.Unlock()
		if !first {
			r.setPhase(PhaseReconnecting, st.Reason)
		}
	case ingest.StateFailed:
		r.setPhase(PhaseFailed, st.Reason)
	}
	r.mu.Lock()
	r.state.Reconnects = st.Reconnects
	r.mu.Unlock()
}

// onAccessUnit runs on the client's delivery goroutine: decode, extract, gate, clip.
func (r *cameraRunner) onAccessUnit(au ingest.AccessUnit) {
	if r.deps.onAccessUnit != nil {
		r.deps.onAccessUnit(r.cfg.Name, au)
	}
	if au.Discontinuity { // a new session: drain the old one's pictures, restart timestamps and references
		if r.dec != nil {
			_ = r.dec.Flush(r.onFrame)
		}
		r.proc.reset()
	}
	if r.dec == nil {
		dec, err := demux.NewDecoder(au.Codec, demux.DecoderConfig{
			MotionVectors: true, Pixels: true, Threads: 1, HWAccel: demux.HWAccel(r.cfg.HWAccel), Logger: r.log})
		if err != nil { // the client delivers only H.264 and H.265, so this is a bug, not a camera fault
			r.setPhase(PhaseFailed, err.Error())
			return
		}
		r.dec = dec
	}
	start := time.Now()
	err := r.dec.Decode(au, r.onFrame)
	if m := r.deps.metrics; m != nil {
		m.DecodeSeconds.WithLabelValues(r.cfg.Name).Observe(time.Since(start).Seconds())
		if !r.hwChecked && r.dec.Stats().Packets > 0 {
			r.hwChecked = true
			if r.dec.HW().Fallback() {
				m.HWAccelFallbacks.WithLabelValues(r.cfg.Name).Inc()
			}
		}
		if start.Sub(r.lastCounters) >= time.Second {
			r.lastCounters = start
			r.updateCounters(m)
		}
	}
	if err != nil && !errors.Is(err, demux.ErrNoRandomAccess) {
		r.log.Debug("frame skipped", "err", err)
	}
}

// updateCounters adds what the client counted since the last call to the camera's metrics.
func (r *cameraRunner) updateCounters(m *Metrics) {
	st := r.client.State()
	if st.PacketsLost > r.lostSeen {
		m.PacketsLost.WithLabelValues(r.cfg.Name).Add(float64(st.PacketsLost - r.lostSeen))
		r.lostSeen = st.PacketsLost
	}
	if st.Reconnects > r.reconnectsSeen {
		m.Reconnects.WithLabelValues(r.cfg.Name).Add(float64(st.Reconnects - r.reconnectsSeen))
		r.reconnectsSeen = st.Reconnects
	}
}

func (r *cameraRunner) onFrame(f *demux.Frame) error {
	r.frames.Add(1)
	r.last.Store(time.Now().UnixNano())
	if m := r.deps.metrics; m != nil {
		m.FramesDecoded.WithLabelValues(r.cfg.Name).Inc()
	}
	if err := r.proc.frame(f); err != nil {
		r.log.Debug("frame not analysed", "err", err)
	}
	return nil
}

// inferLoop sends queued clips to the classifier and feeds the answers to the eventizer.
func (r *cameraRunner) inferLoop(ctx context.Context) {
	defer close(r.done)
	ev := &eventizer{camera: r.cfg.Name, thresholds: r.deps.thresholds, idle: r.deps.idleLabels,
		publish: r.deps.publish, gap: 2 * time.Second}
	defer ev.flush()
	for {
		// An open event is complete when the scene goes quiet (the gate's marker) or, should the
		// marker have been dropped, when no clip came for the gap.
		wait, cancel := context.WithTimeout(ctx, ev.gap)
		job, err := r.jobs.Pop(wait)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ev.flush()
			continue
		}
		if job.quiet {
			ev.flush()
			releaseJob(job)
			continue
		}
		c, err := r.deps.classifier.Classify(ctx, job.data)
		if err != nil {
			releaseJob(job)
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("inference failed", "err", err)
			continue
		}
		if m := r.deps.metrics; m != nil {
			m.ObserveEarlyExit(c.ExitStage)
		}
		ev.observe(job, c)
		releaseJob(job)
	}
}

func (r *cameraRunner) setPhase(p CameraPhase, reason string) {
	r.mu.Lock()
	if r.state.Phase != p || r.state.Reason != reason {
		r.state.Phase, r.state.Reason, r.state.Since = p, reason, time.Now()
	}
	r.mu.Unlock()
	if m := r.deps.metrics; m != nil {
		m.SetCameraState(r.cfg.Name, p)
	}
}

// State returns a snapshot of the camera's state.
func (r *cameraRunner) State() CameraState {
	r.mu.Lock()
	st := r.state
	r.mu.Unlock()
	st.FramesDecoded = r.frames.Load()
	st.GateOpen = r.proc.gateOpen.Load()
	st.SkipRatio = math.Float64frombits(r.proc.skipRatio.Load())
	if ns := r.last.Load(); ns > 0 {
		t := time.Unix(0, ns)
		st.LastFrame = &t
	}
	return st
}
