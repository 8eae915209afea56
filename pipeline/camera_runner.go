package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/clip"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/decodelimit"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/redact"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/internal/track"
	"github.com/mvwatch/mvwatch/mvextract"

	"github.com/mvwatch/mvwatch/internal/event"
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
	thresholds config.Thresholds
	idleLabels map[string]bool
	publish    func(event.Event) // hands an event to the bus; never blocks
	metrics    *Metrics
	log        *slog.Logger
	// onAccessUnit, when set, sees every access unit (the restream server). It must not block.
	onAccessUnit func(camera string, au media.AccessUnit)
	// onRemove, when set, is called after a camera is removed at run time.
	onRemove func(camera string)
	// jobQueue is the number of clips a camera may have waiting for inference; more are dropped.
	jobQueue int
	// dialContext, when set, opens cameras' connections (the camera policy's dialer).
	dialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// limits and limitMetrics bound each camera's stream (config decode section).
	limits       decodelimit.Limits
	limitMetrics *decodelimit.Metrics
	// eventGap is the eventizer's gap.
	eventGap time.Duration
	// pregate is the pre-decode gate in front of each camera's decoder; nil for none.
	pregate *source.PreGate
	// clips records every event's video; nil for none.
	clips *clip.Service
}

// cameraRunner runs one RTSP camera: its source (internal/source) pulls, reconnects and decodes, the
// delivery goroutine extracts, gates and assembles clips, and a second goroutine sends the clips to the
// classifier and turns the answers into events. Decoding never waits for inference: clips that find the
// queue full are dropped and counted.
type cameraRunner struct {
	cfg  config.Camera
	deps *cameraDeps
	log  *slog.Logger

	src  *source.Source
	proc *processor
	jobs *queue.Queue[*clipJob]
	rec  *clip.Recorder // nil without clips

	// Owned by the delivery goroutine: the client counters already added to the metrics.
	lostSeen, reconnectsSeen uint64
	lastCounters             time.Time
	hwChecked                bool

	mu      sync.Mutex
	state   bus.CameraState
	history []bus.PhaseChange // ring of the last bus.HistoryLen changes, oldest first
	secrets redact.Secrets    // of the camera's URL, scrubbed from the reasons
	frames  atomic.Uint64
	last    atomic.Int64 // unix nanoseconds of the last decoded frame

	// ev turns the classifications into events. It belongs to inferLoop while it runs; a replacement
	// runner takes it over once the old one's inferLoop has returned (Fleet.Replace).
	ev *eventizer

	cancel  context.CancelFunc // ends inferLoop
	stopSrc context.CancelFunc // ends the source's run
	done    chan struct{}      // closed when inferLoop returns
	srcDone chan struct{}      // closed when the source's run returns
}

// newCamera builds a runner for cfg; start runs it and stop ends it.
func newCamera(cfg config.Camera, deps *cameraDeps) (*cameraRunner, error) {
	r := &cameraRunner{cfg: cfg, deps: deps, log: deps.log.With("camera", cfg.Name), done: make(chan struct{}), srcDone: make(chan struct{})}
	r.state = bus.CameraState{Name: cfg.Name, Phase: bus.PhaseStarting, Since: time.Now()}
	r.secrets = redact.NewSecrets(cfg.URL)
	qo := queue.Options{}
	if m := deps.metrics; m != nil {
		m.InitCamera(cfg.Name)
		qo.Drops = m.QueueDrops.WithLabelValues("inference", cfg.Name)
		qo.Depth = m.QueueDepth.WithLabelValues("inference", cfg.Name)
	}
	r.jobs = queue.New[*clipJob](deps.jobQueue, qo)
	proc, err := newProcessor(cfg.Name, deps.features, cfg.Gate, deps.metrics, r.jobs.Push)
	if err != nil {
		return nil, err
	}
	proc.scene = track.NewScene(track.ConfigFor(cfg))
	r.proc = proc
	r.src = source.New(source.Config{
		Input:           cfg.URL,
		Camera:          cfg.Name,
		Transport:       cfg.Transport,
		Decoder:         demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1, HWAccel: demux.HWAccel(cfg.HWAccel), Logger: r.log},
		Log:             deps.log, // the client names the camera itself
		OnState:         r.onClientState,
		OnAccessUnit:    r.onAccessUnit,
		OnDiscontinuity: r.proc.reset,
		OnDecode:        r.onDecode,
		DialContext:     deps.dialContext,
		Limits:          deps.limits,
		LimitMetrics:    deps.limitMetrics,
		PreGate:         deps.pregate,
		OnGap:           r.proc.gap,
	})
	r.ev = &eventizer{camera: cfg.Name, thresholds: deps.thresholds, idle: deps.idleLabels,
		publish: deps.publish, gap: deps.eventGap, zones: proc.scene.Zones()}
	if deps.clips != nil {
		r.rec = deps.clips.Recorder(cfg.Name)
		r.ev.clips = r.rec
	}
	return r, nil
}

// start runs the camera's goroutines; from carries on the events of a camera this one replaces
// (its open event stays open), nil for a new camera.
func (r *cameraRunner) start(from *eventizer) {
	if from != nil {
		from.thresholds = r.deps.thresholds
		from.setZones(r.ev.zones)
		from.resume()
		// The old stream's clips ended with it (endClips); the new stream records the next ones.
		from.clips = r.ev.clips
		r.ev = from
	}
	r.setPhase(bus.PhaseStarting, "")
	if pg := r.deps.pregate; pg != nil {
		// After the runner this one replaces has halted (its pre-gate's series removed).
		pg.Metrics.InitCamera(r.cfg.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	srcCtx, stopSrc := context.WithCancel(context.Background())
	r.stopSrc = stopSrc
	go r.inferLoop(ctx)
	go r.runSource(srcCtx)
}

// stop ends the source (its decoder flushed into the processor), waits for the inference goroutine
// and publishes the camera's open event.
func (r *cameraRunner) stop() {
	r.halt()
	r.ev.flush()
	r.endClips()
}

// endClips finishes the camera's recordings with what they hold, once its source has stopped.
func (r *cameraRunner) endClips() {
	if r.rec != nil {
		r.rec.Close()
	}
}

// halt stops the camera like stop but keeps its open event unpublished, for a replacement runner to
// take over (handOver).
func (r *cameraRunner) halt() {
	r.stopSrc()
	<-r.srcDone
	r.cancel()
	<-r.done
	r.setPhase(bus.PhaseStopped, "")
}

// handOver returns the eventizer of a halted runner.
func (r *cameraRunner) handOver() *eventizer { return r.ev }

// runSource pulls and decodes the camera until stop; a source that ends on its own has failed.
func (r *cameraRunner) runSource(ctx context.Context) {
	defer close(r.srcDone)
	err := r.src.Run(ctx, r.onFrame)
	if ctx.Err() != nil {
		return
	}
	reason := "stream ended"
	if err != nil {
		reason = err.Error()
	}
	r.mu.Lock()
	failed := r.state.Phase == bus.PhaseFailed
	r.mu.Unlock()
	if !failed { // the client's own failure has set the phase and its reason already
		r.setPhase(bus.PhaseFailed, reason)
	}
}

// onClientState maps the ingest client's states onto camera phases.
func (r *cameraRunner) onClientState(st ingest.ClientState) {
	switch st.State {
	case ingest.StateStreaming:
		r.setPhase(bus.PhaseRunning, "")
	case ingest.StateBackoff:
		r.setPhase(bus.PhaseReconnecting, st.Reason)
	case ingest.StateConnecting:
		r.mu.Lock()
		first := r.state.Phase == bus.PhaseStarting
		r.mu.Unlock()
		if !first {
			r.setPhase(bus.PhaseReconnecting, st.Reason)
		}
	case ingest.StateFailed:
		r.setPhase(bus.PhaseFailed, st.Reason)
	}
	r.mu.Lock()
	r.state.Reconnects = st.Reconnects
	r.mu.Unlock()
}

// onAccessUnit runs on the client's delivery goroutine, before the unit is decoded.
func (r *cameraRunner) onAccessUnit(au media.AccessUnit) {
	if r.rec != nil {
		r.rec.Push(au)
	}
	if r.deps.onAccessUnit != nil {
		r.deps.onAccessUnit(r.cfg.Name, au)
	}
}

// onDecode runs on the delivery goroutine after each access unit went through the decoder.
func (r *cameraRunner) onDecode(d source.DecodeInfo) {
	if m := r.deps.metrics; m != nil {
		now := time.Now()
		m.DecodeSeconds.WithLabelValues(r.cfg.Name).Observe(d.Took.Seconds())
		if !r.hwChecked && d.Stats.Packets > 0 {
			r.hwChecked = true
			if d.HW.Fallback() {
				m.HWAccelFallbacks.WithLabelValues(r.cfg.Name).Inc()
			}
		}
		if now.Sub(r.lastCounters) >= time.Second {
			r.lastCounters = now
			r.updateCounters(m)
		}
	}
	if d.Err != nil && !errors.Is(d.Err, demux.ErrNoRandomAccess) {
		r.log.Debug("frame skipped", "err", d.Err)
	}
}

// updateCounters adds what the client counted since the last call to the camera's metrics.
func (r *cameraRunner) updateCounters(m *Metrics) {
	st := r.src.ClientState()
	if st.PacketsLost > r.lostSeen {
		m.PacketsLost.WithLabelValues(r.cfg.Name).Add(float64(st.PacketsLost - r.lostSeen))
		r.lostSeen = st.PacketsLost
	}
	if st.Reconnects > r.reconnectsSeen {
		m.Reconnects.WithLabelValues(r.cfg.Name).Add(float64(st.Reconnects - r.reconnectsSeen))
		r.reconnectsSeen = st.Reconnects
	}
}

func (r *cameraRunner) onFrame(f *media.Frame) error {
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
	ev := r.ev
	first := true
	for {
		// An open event is complete when the scene goes quiet (the gate's marker) or, should the
		// marker have been dropped, when no clip came for the gap (a resumed stream gets longer for
		// its first clip).
		gap := ev.gap
		if first && ev.resumed {
			gap = ev.resumeWindow()
		}
		first = false
		wait, cancel := context.WithTimeout(ctx, gap)
		job, err := r.jobs.Pop(wait)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ev.flush()
			continue
		}
		if job.quiet || ev.zoneEvents(job) {
			if job.quiet {
				ev.flush()
			}
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

func (r *cameraRunner) setPhase(p bus.CameraPhase, reason string) {
	reason = r.secrets.Scrub(reason)
	r.mu.Lock()
	if r.state.Phase != p {
		r.record(bus.PhaseChange{At: time.Now(), From: r.state.Phase, To: p, Reason: reason})
	}
	if r.state.Phase != p || r.state.Reason != reason {
		r.state.Phase, r.state.Reason, r.state.Since = p, reason, time.Now()
	}
	r.mu.Unlock()
	if m := r.deps.metrics; m != nil {
		m.SetCameraState(r.cfg.Name, p)
	}
}

// record adds a phase change to the history ring, dropping the oldest beyond bus.HistoryLen. r.mu is held.
func (r *cameraRunner) record(c bus.PhaseChange) {
	if len(r.history) == bus.HistoryLen {
		copy(r.history, r.history[1:])
		r.history = r.history[:bus.HistoryLen-1]
	}
	r.history = append(r.history, c)
}

// takeHistory starts r's history with that of old, the halted runner it replaces (before r starts).
func (r *cameraRunner) takeHistory(old *cameraRunner) {
	old.mu.Lock()
	h := append([]bus.PhaseChange(nil), old.history...)
	old.mu.Unlock()
	r.mu.Lock()
	r.history = h
	r.mu.Unlock()
}

// State returns a snapshot of the camera's state.
func (r *cameraRunner) State() bus.CameraState {
	r.mu.Lock()
	st := r.state
	st.History = append([]bus.PhaseChange(nil), r.history...)
	r.mu.Unlock()
	st.FramesDecoded = r.frames.Load()
	st.GateOpen = r.proc.gateOpen.Load()
	st.SkipRatio = math.Float64frombits(r.proc.skipRatio.Load())
	st.PreGate = preGateState(r.src)
	if ns := r.last.Load(); ns > 0 {
		t := time.Unix(0, ns)
		st.LastFrame = &t
	}
	return st
}
