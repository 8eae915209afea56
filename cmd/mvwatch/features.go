package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/mvextract"
)

// featuresOptions configures `mvwatch features`.
type featuresOptions struct {
	out       string
	spec      mvextract.FeatureSpec
	threads   int
	maxTime   time.Duration
	idle      time.Duration
	queue     int
	transport string
}

// featuresMeta is the .json written next to the .npy of `mvwatch features`.
type featuresMeta struct {
	Input        string         `json:"input"`
	Layout       string         `json:"layout"`
	Shape        []int          `json:"shape"`
	Channels     []string       `json:"channels"`
	ClipLen      int            `json:"clip_len"`
	Stride       int            `json:"stride"`
	Step         int            `json:"step"`
	Width        int            `json:"width"`
	Height       int            `json:"height"`
	Accumulate   bool           `json:"accumulate"`
	Interp       string         `json:"interpolation"`
	Reference    string         `json:"reference"`
	MVNorm       float32        `json:"mv_norm"`
	ResidualNorm float32        `json:"residual_norm"`
	SourceWidth  int            `json:"source_width"`
	SourceHeight int            `json:"source_height"`
	Frames       int            `json:"frames"`
	Clips        []featuresClip `json:"clips"`
}

// featuresClip names the frames of one clip.
type featuresClip struct {
	First     int     `json:"first"`      // index of the clip's first frame in output order
	Last      int     `json:"last"`       // index of its last frame
	Frames    []int   `json:"frames"`     // the T frame indices
	PictTypes string  `json:"pict_types"` // one letter per frame: I, P, B, ...
	PTS       []int64 `json:"pts_ms"`     // presentation times in milliseconds (-1: unknown)
}

func runFeatures(args []string) int {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	var o featuresOptions
	fs.StringVar(&o.out, "out", "", "output .npy file (float32 [N, C, T, H, W]); a .json with the clips' frames goes next to it")
	featureFlags := mvextract.RegisterFeatureFlags(fs)
	fs.IntVar(&o.threads, "threads", 1, "decoder threads (0: number of CPUs); features do not depend on it")
	fs.DurationVar(&o.maxTime, "duration", 0, "for RTSP inputs: stop after this long (0: until the stream ends or Ctrl-C)")
	fs.DurationVar(&o.idle, "idle", 3*time.Second, "for RTSP inputs: the stream has ended once no access unit came for this long (0: wait forever)")
	fs.IntVar(&o.queue, "queue", 1024, "for RTSP inputs: access units buffered between network and decoder (full: dropped and counted)")
	fs.StringVar(&o.transport, "transport", "tcp", "for RTSP inputs: tcp, udp or auto")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch features [flags] INPUT --out FILE.npy\n\n"+
			"Decodes INPUT (a video file or rtsp:// URL) and writes its model-input clips as one float32 .npy\n"+
			"[N, C, T, H, W] (channels dx, dy, residual[, abs_residual][, cb_residual, cr_residual]; see package\n"+
			"mvextract) and FILE.json "+
			"with the settings and each clip's frames, picture types and times.")
		fs.PrintDefaults()
	}
	// Accept flags after INPUT too: `mvwatch features INPUT --out FILE.npy`.
	var input string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if input != "" {
			fmt.Fprintf(os.Stderr, "mvwatch features: more than one input (%q, %q)\n", input, fs.Arg(0))
			return 2
		}
		input, rest = fs.Arg(0), fs.Args()[1:]
	}
	if input == "" || o.out == "" {
		fs.Usage()
		return 2
	}
	var err error
	if o.spec, err = featureFlags.Spec(); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch features: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	meta, err := features(ctx, input, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch features: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "mvwatch features: %d clips of %d frames from %d frames written to %s\n",
		len(meta.Clips), meta.ClipLen, meta.Frames, o.out)
	return 0
}

// features decodes input, assembles its clips and writes o.out and its .json. The .npy is written as
// the clips come, so long inputs need no more memory than short ones.
func features(ctx context.Context, input string, o featuresOptions) (*featuresMeta, error) {
	cl, err := mvextract.NewClipper(o.spec.Clip)
	if err != nil {
		return nil, err
	}
	cfg := cl.Config()
	ch := cfg.Channels()
	meta := &featuresMeta{
		Input: input, Layout: "NCTHW", Channels: cfg.ChannelNames(),
		ClipLen: cfg.Length, Stride: cfg.Stride, Step: cfg.Step, Width: cfg.Width, Height: cfg.Height,
		Accumulate: cfg.Accumulate, Interp: o.spec.Extractor.Interpolation.String(), Reference: o.spec.Extractor.Reference.String(), MVNorm: cfg.MVNorm, ResidualNorm: cfg.ResidualNorm, Clips: []featuresClip{},
	}
	f, err := os.Create(o.out)
	if err != nil {
		return nil, err
	}
	npy, err := mvextract.NewNPYStream(f, "float32", []int{ch, cfg.Length, cfg.Height, cfg.Width})
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	ex := mvextract.NewExtractor(o.spec.Extractor)
	defer ex.Close()
	onFrame := func(fr *media.Frame) error {
		ft, err := ex.Process(fr)
		if err != nil {
			return err
		}
		meta.Frames++
		meta.SourceWidth, meta.SourceHeight = ft.Width, ft.Height
		clip, err := cl.Push(ft)
		if err != nil || clip == nil {
			return err
		}
		if err := npy.Append(clip.Data); err != nil {
			return err
		}
		c := featuresClip{First: clip.Frames[0].Index, Last: clip.Frames[len(clip.Frames)-1].Index}
		var types []byte
		for _, fi := range clip.Frames {
			c.Frames = append(c.Frames, fi.Index)
			types = append(types, fi.PictType)
			pts := int64(-1)
			if fi.PTS >= 0 {
				pts = fi.PTS.Milliseconds()
			}
			c.PTS = append(c.PTS, pts)
		}
		c.PictTypes = string(types)
		meta.Clips = append(meta.Clips, c)
		return nil
	}
	dcfg := demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: o.threads}
	runErr := source.New(source.Config{Input: input, Camera: "features", Decoder: dcfg,
		Transport: o.transport, QueueSize: o.queue, MaxTime: o.maxTime, Idle: o.idle}).Run(ctx, onFrame)
	if source.IsURL(input) && (errors.Is(runErr, context.DeadlineExceeded) || errors.Is(runErr, context.Canceled)) {
		runErr = nil // --duration passed, or Ctrl-C: a live stream ends this way
	}
	closeErr := errors.Join(npy.Close(), f.Close())
	if err := errors.Join(runErr, closeErr); err != nil {
		return nil, err
	}
	meta.Shape = []int{len(meta.Clips), ch, cfg.Length, cfg.Height, cfg.Width}
	if err := writeJSON(jsonPath(o.out), meta); err != nil {
		return nil, err
	}
	return meta, nil
}

// jsonPath is FILE.json for FILE.npy (or FILE.npy.json for other names).
func jsonPath(npy string) string {
	if base, ok := strings.CutSuffix(npy, ".npy"); ok {
		return base + ".json"
	}
	return npy + ".json"
}

func writeJSON(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", " ")
	err = enc.Encode(v)
	return errors.Join(err, bw.Flush(), f.Close())
}
