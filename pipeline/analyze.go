package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/internal/track"
	"github.com/mvwatch/mvwatch/mvextract"

	"github.com/mvwatch/mvwatch/internal/event"
)

// AnalyzeOptions configures AnalyzeFile.
type AnalyzeOptions struct {
	Classifier Classifier
	Features   mvextract.FeatureSpec
	// Gate is the motion gate; Enabled false sends every clip to the model.
	Gate       config.Gate
	Thresholds config.Thresholds
	// IdleLabels are the labels that are no event. It defaults to {"idle"}.
	IdleLabels []string
	// Threads is the decoder thread count. It defaults to 1.
	Threads int
	// Scene holds the masks and zones (track.ConfigFor of a camera). It defaults to none.
	Scene track.Config
	// PreGate, when set and enabled, puts the pre-decode gate in front of the decoder of a raw
	// H.264/H.265 file, which is then read access unit by access unit as a camera is. It defaults to
	// nil: every frame is decoded.
	PreGate *config.PreGate
	// OnWake, when set with PreGate, sees every pre-gate wake-up (source.Config.OnWake).
	OnWake func(source.Wake)
}

// AnalyzeStats summarises an AnalyzeFile run.
type AnalyzeStats struct {
	Frames     int
	Clips      int     // clips classified
	SkipRatio  float64 // fraction of frames the gate skipped
	ExitStages map[int]int
	// PreGate is the pre-decode gate's final state, nil without one.
	PreGate *bus.PreGateState
}

// AnalyzeFile runs the serving pipeline (extract, gate, clip, classify, events) over a file and calls
// emit for every event, in order. Event times are offsets from the file's first frame, as
// time.Unix(0, 0).Add(offset).
func AnalyzeFile(ctx context.Context, path string, opts AnalyzeOptions, emit func(event.Event)) (AnalyzeStats, error) {
	st := AnalyzeStats{ExitStages: map[int]int{}}
	if opts.Threads <= 0 {
		opts.Threads = 1
	}
	if len(opts.IdleLabels) == 0 {
		opts.IdleLabels = []string{"idle"}
	}
	idle := map[string]bool{}
	for _, l := range opts.IdleLabels {
		idle[l] = true
	}
	if opts.Thresholds.MinScore == 0 && opts.Thresholds.Labels == nil {
		opts.Thresholds.MinScore = 0.5
	}
	ev := &eventizer{camera: "file", thresholds: opts.Thresholds, idle: idle, publish: emit, gap: 2 * time.Second,
		zones: opts.Scene.Zones}
	var classifyErr error
	submit := func(job *clipJob) bool {
		defer releaseJob(job)
		if job.quiet {
			ev.flush()
			return true
		}
		if ev.zoneEvents(job) {
			return true
		}
		c, err := opts.Classifier.Classify(ctx, job.data)
		if err != nil {
			classifyErr = err
			return true
		}
		st.Clips++
		st.ExitStages[c.ExitStage]++
		ev.observe(job, c)
		return true
	}
	proc, err := newProcessor("file", opts.Features, opts.Gate.WithDefaults(config.DefaultGate()), nil, submit)
	if err != nil {
		return st, err
	}
	proc.now = func() time.Time { return time.Unix(0, 0) }
	proc.scene = track.NewScene(opts.Scene)
	sc := source.Config{Input: path, Camera: "file",
		Decoder: demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: opts.Threads}}
	if opts.PreGate != nil {
		sc.PreGate = sourcePreGate(*opts.PreGate, nil)
		sc.OnGap = proc.gap
		sc.OnWake = opts.OnWake
	}
	src := source.New(sc)
	err = src.Run(ctx, func(fr *media.Frame) error {
		st.Frames++
		if err := proc.frame(fr); err != nil {
			return err
		}
		return classifyErr
	})
	ev.flush()
	st.SkipRatio = proc.gate.SkipRatio()
	st.PreGate = preGateState(src)
	if err != nil {
		return st, fmt.Errorf("analyze %s: %w", path, err)
	}
	return st, nil
}
