package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/clip"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/decodelimit"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/mvextract"
)

// Fleet runs the set of cameras of one worker and serves camera commands (bus.Cameras): cameras can be
// added, replaced and removed at run time, each with its own runner, so a failing camera never stops
// the others. Its events go to the bus.
type Fleet struct {
	gate config.Gate
	deps *cameraDeps

	mu      sync.Mutex
	cams    map[string]config.Camera
	runners map[string]*cameraRunner
	closed  bool
}

// FleetOptions configures a Fleet.
type FleetOptions struct {
	// Bus receives every event the cameras emit. Required.
	Bus bus.Bus
	// Limits bound each camera's stream before it reaches the decoder (config decode section). It
	// defaults to decodelimit.FromConfig of the default config.
	Limits decodelimit.Limits
	// LimitMetrics, when set, counts cameras failed by a limit and throttled access units.
	LimitMetrics *decodelimit.Metrics
	// Classifier runs the model on clips. Required.
	Classifier Classifier
	// Features is the feature configuration the model takes (Model.Features).
	Features mvextract.FeatureSpec
	// Gate is the gate configuration cameras inherit.
	Gate config.Gate
	// Thresholds are the event score thresholds.
	Thresholds config.Thresholds
	// IdleLabels are the model labels that are no event. It defaults to {"idle"}.
	IdleLabels []string
	// Metrics, when set, receives the cameras' metrics.
	Metrics *Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// OnAccessUnit, when set, sees every access unit of every camera (the restream server). It must
	// not block.
	OnAccessUnit func(camera string, au media.AccessUnit)
	// OnRemove, when set, is called after a camera is removed at run time.
	OnRemove func(camera string)
	// JobQueue is the number of clips a camera may have waiting for inference; more are dropped. It
	// defaults to 4.
	JobQueue int
	// EventGap is how far apart two clips may be and still extend the same event; an open event is
	// published once no clip came for this long. It defaults to 2 seconds.
	EventGap time.Duration
	// DialContext, when set, opens the cameras' TCP connections (the camera policy's dialer, which
	// refuses denied addresses after name resolution). It defaults to the RTSP client's.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// PreGate, when set and enabled, puts the pre-decode gate (config pregate section) in front of
	// every camera's decoder, after the decode limits. It defaults to nil: every access unit is
	// decoded.
	PreGate *config.PreGate
	// Clips, when set, records a clip of every model event (not zone events) from its pre-roll to its
	// post-roll (internal/clip). A replaced camera's clips end at the replacement. It defaults to nil.
	Clips *clip.Service
}

// NewFleet returns an empty fleet; Add starts cameras and Close stops them all.
func NewFleet(opts FleetOptions) (*Fleet, error) {
	if opts.Bus == nil || opts.Classifier == nil {
		return nil, errors.New("pipeline: FleetOptions needs Bus and Classifier")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.JobQueue <= 0 {
		opts.JobQueue = 4
	}
	if opts.EventGap <= 0 {
		opts.EventGap = 2 * time.Second
	}
	if len(opts.IdleLabels) == 0 {
		opts.IdleLabels = []string{"idle"}
	}
	idle := map[string]bool{}
	for _, l := range opts.IdleLabels {
		idle[l] = true
	}
	log := opts.Logger
	b := opts.Bus
	if opts.Limits == (decodelimit.Limits{}) {
		opts.Limits = decodelimit.FromConfig(config.Default().Decode)
	}
	deps := &cameraDeps{
		features:   opts.Features,
		classifier: opts.Classifier,
		thresholds: opts.Thresholds,
		idleLabels: idle,
		publish: func(ev event.Event) {
			if !b.PublishEvent(ev) {
				log.Error("event queue full, event dropped", "camera", ev.Camera, "label", ev.Label)
			}
		},
		metrics:      opts.Metrics,
		log:          log,
		onAccessUnit: opts.OnAccessUnit,
		onRemove:     opts.OnRemove,
		jobQueue:     opts.JobQueue,
		dialContext:  opts.DialContext,
		limits:       opts.Limits,
		limitMetrics: opts.LimitMetrics,
		eventGap:     opts.EventGap,
		clips:        opts.Clips,
	}
	if opts.PreGate != nil {
		deps.pregate = sourcePreGate(*opts.PreGate, opts.Metrics)
		if deps.pregate != nil {
			// The sleeping cameras' keyframe checks share a few open decoders (Close frees them).
			deps.pregate.Decoders = source.NewKeyframeDecoders(2 * runtime.NumCPU())
		}
	}
	return &Fleet{gate: opts.Gate, deps: deps, cams: map[string]config.Camera{}, runners: map[string]*cameraRunner{}}, nil
}

// List returns the cameras sorted by name.
func (f *Fleet) List() []config.Camera {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]config.Camera, 0, len(f.cams))
	for _, c := range f.cams {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns one camera's configuration.
func (f *Fleet) Get(name string) (config.Camera, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cams[name]
	if !ok {
		return config.Camera{}, fmt.Errorf("%w: %q", bus.ErrCameraNotFound, name)
	}
	return c, nil
}

// Add validates cam and starts it (unless it is disabled).
func (f *Fleet) Add(_ context.Context, cam config.Camera) error { return f.put(cam, false) }

// Replace swaps a camera's configuration in one step: the new runner is built first (a bad
// configuration leaves the old camera running), then the old one stops and hands its open event to the
// new one, which carries it on. The camera is never missing from List, Get or State.
func (f *Fleet) Replace(_ context.Context, cam config.Camera) error { return f.put(cam, true) }

// put adds a new camera (replace false) or replaces a configured one.
func (f *Fleet) put(cam config.Camera, replace bool) error {
	if err := cam.Validate(f.gate); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("camera %q: the service is shutting down", cam.Name)
	}
	switch _, exists := f.cams[cam.Name]; {
	case replace && !exists:
		return fmt.Errorf("%w: %q", bus.ErrCameraNotFound, cam.Name)
	case !replace && exists:
		return fmt.Errorf("%w: %q", bus.ErrCameraExists, cam.Name)
	}
	var next *cameraRunner
	if cam.IsEnabled() {
		var err error
		if next, err = newCamera(cam, f.deps); err != nil {
			return fmt.Errorf("camera %q: %w", cam.Name, err)
		}
	}
	var open *eventizer
	if old := f.runners[cam.Name]; old != nil {
		if next != nil {
			old.halt()
			old.endClips()
			open = old.handOver()
			next.takeHistory(old) // the reconnect history carries on under the new configuration
		} else {
			old.stop() // disabled now: the open event is complete
		}
	}
	f.cams[cam.Name] = cam
	delete(f.runners, cam.Name)
	if next == nil {
		if f.deps.metrics != nil {
			f.deps.metrics.SetCameraState(cam.Name, bus.PhaseDisabled)
		}
		return nil
	}
	next.start(open)
	f.runners[cam.Name] = next
	return nil
}

// Remove stops a camera (publishing its open event) and forgets it.
func (f *Fleet) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	if _, ok := f.cams[name]; !ok {
		f.mu.Unlock()
		return fmt.Errorf("%w: %q", bus.ErrCameraNotFound, name)
	}
	r := f.runners[name]
	delete(f.cams, name)
	delete(f.runners, name)
	f.mu.Unlock()
	if r != nil {
		r.stop()
	}
	if f.deps.metrics != nil {
		f.deps.metrics.ForgetCamera(name)
	}
	if f.deps.onRemove != nil {
		f.deps.onRemove(name)
	}
	return nil
}

// State returns a camera's state.
func (f *Fleet) State(name string) (bus.CameraState, error) {
	f.mu.Lock()
	c, ok := f.cams[name]
	r := f.runners[name]
	f.mu.Unlock()
	if !ok {
		return bus.CameraState{}, fmt.Errorf("%w: %q", bus.ErrCameraNotFound, name)
	}
	if r == nil {
		return bus.CameraState{Name: c.Name, Phase: bus.PhaseDisabled, Since: time.Time{}}, nil
	}
	return r.State(), nil
}

// Close stops every camera in parallel; each publishes its open event before Close returns.
func (f *Fleet) Close() {
	f.mu.Lock()
	f.closed = true
	runners := make([]*cameraRunner, 0, len(f.runners))
	for _, r := range f.runners {
		runners = append(runners, r)
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stop()
		}()
	}
	wg.Wait()
	if f.deps.pregate != nil && f.deps.pregate.Decoders != nil {
		f.deps.pregate.Decoders.Close()
	}
}

var _ bus.Cameras = (*Fleet)(nil)
