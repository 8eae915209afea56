package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/pipeline"
)

// WakeConfig configures Wake; the zero value of a field means its default.
type WakeConfig struct {
	// Size is the scenes' picture size. It defaults to "1280x720".
	Size string
	// FPS is the scenes' frame rate. It defaults to 15.
	FPS int
	// Crossings is the object crossings per scene. It defaults to 8.
	Crossings int
	// Seed draws the crossings' times. It defaults to 1.
	Seed uint64
	// ModelDir is the model directory. It defaults to pipeline.DefaultModelDir.
	ModelDir string
	// Out receives the report (one line per scene, then one JSON line); Log the progress.
	Out, Log io.Writer
}

// WakeUsage describes `mvwatch bench wake`.
const WakeUsage = "usage: mvwatch bench wake [flags]\n\nEncodes three mostly idle camera scenes with object crossings at known, random times (CBR rate\ncontrol, VBR/CRF, and a dark, noisy night-like scene), runs each through the pre-decode gate and the\nwhole event path as a camera is run, and reports per scene the wake-up latency (from the first frame\nof a crossing to the access unit at which the camera woke) p50/p99/max, whether each wake-up's replay\nstarted before the crossing (no frame lost), the crossings found as object events, and the fraction\nof access units decoded."

// wakeScene is one encoding of the test scene.
type wakeScene struct {
	Name string
	// Background is the lavfi source of the static picture, Box the crossing object's colour.
	Background, Box string
	// Rate is the x264 rate control arguments.
	Rate []string
}

// wakeScenes are the scenes of the issue: a CBR-like and a VBR (CRF) camera by day, and a night-like
// scene (dark, heavy sensor noise, a dim object) whose bit rate the encoder caps at 4 Mbit/s, as a
// camera's does (uncapped, the noise alone takes 20 Mbit/s, and a GOP outgrows the buffer).
var wakeScenes = []wakeScene{
	{Name: "cbr", Background: "testsrc2=size=%s:rate=%d,trim=end_frame=1,loop=-1:1:0,setpts=N/%d/TB,noise=alls=4:allf=t",
		Box: "white", Rate: []string{"-b:v", "2M", "-minrate", "2M", "-maxrate", "2M", "-bufsize", "1M", "-x264-params", "nal-hrd=cbr"}},
	{Name: "vbr", Background: "testsrc2=size=%s:rate=%d,trim=end_frame=1,loop=-1:1:0,setpts=N/%d/TB,noise=alls=4:allf=t",
		Box: "white", Rate: []string{"-crf", "26"}},
	{Name: "night", Background: "testsrc2=size=%s:rate=%d,trim=end_frame=1,loop=-1:1:0,setpts=N/%d/TB,eq=brightness=-0.3:contrast=0.4,noise=alls=12:allf=t",
		Box: "0x404040", Rate: []string{"-crf", "26", "-maxrate", "4M", "-bufsize", "4M"}},
}

// wakeScene results.
type wakeResult struct {
	Scene     string  `json:"scene"`
	Crossings int     `json:"crossings"`
	Woken     int     `json:"woken"`          // crossings that woke the camera before they ended (+ the hold)
	ByKeyfr   int     `json:"woken_keyframe"` // of those, woken by the keyframe check
	Covered   int     `json:"replay_covered"` // of those, whose replay started at or before the crossing's first frame
	Events    int     `json:"found_as_events"`
	P50       float64 `json:"wake_latency_p50_s"`
	P99       float64 `json:"wake_latency_p99_s"`
	Max       float64 `json:"wake_latency_max_s"`
	Decoded   float64 `json:"decode_fraction"`
	WakeUps   int     `json:"wake_ups"`
	// EventsPreGate and EventsPlain are the events with and without the pre-gate; Equal says they
	// match one to one (same label, starts within one GOP).
	EventsPreGate int  `json:"events_pregate"`
	EventsPlain   int  `json:"events_plain"`
	Equal         bool `json:"events_equal"`
}

// Wake runs `mvwatch bench wake`.
func Wake(cfg WakeConfig) error {
	cfg.Size = cmp.Or(cfg.Size, "1280x720")
	cfg.FPS = cmp.Or(cfg.FPS, 15)
	cfg.Crossings = cmp.Or(cfg.Crossings, 8)
	cfg.Seed = cmp.Or(cfg.Seed, 1)
	cfg.ModelDir = cmp.Or(cfg.ModelDir, pipeline.DefaultModelDir)
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	cfg.Log = cmp.Or[io.Writer](cfg.Log, io.Discard)
	dir, err := os.MkdirTemp("", "mvwatch-bench-wake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	modelDir, err := pipeline.ResolveModelDir(cfg.ModelDir)
	if err != nil {
		return err
	}
	model, err := pipeline.LoadModel(modelDir, pipeline.ModelOptions{})
	if err != nil {
		return err
	}
	defer model.Close()
	starts := crossingStarts(cfg.Crossings, cfg.Seed)
	var results []wakeResult
	for _, sc := range wakeScenes {
		clip := filepath.Join(dir, sc.Name+".264")
		fmt.Fprintf(cfg.Log, "encoding %s (%s, %d fps, %d crossings) ...\n", clip, cfg.Size, cfg.FPS, len(starts))
		if err := encodeWakeScene(clip, sc, cfg.Size, cfg.FPS, starts); err != nil {
			return err
		}
		r, err := wakeRun(clip, sc.Name, model, starts)
		if err != nil {
			return err
		}
		results = append(results, r)
		fmt.Fprintf(cfg.Out, "%-6s crossings=%d woken=%d (keyframe check %d) replay from before the crossing=%d found as object events=%d wake latency p50/p99/max %.2f/%.2f/%.2f s decoded=%.0f%% wake-ups=%d events with/without the pre-gate %d/%d equal=%v\n",
			r.Scene, r.Crossings, r.Woken, r.ByKeyfr, r.Covered, r.Events, r.P50, r.P99, r.Max, 100*r.Decoded, r.WakeUps, r.EventsPreGate, r.EventsPlain, r.Equal)
	}
	line, _ := json.Marshal(map[string]any{"scenes": results, "size": cfg.Size, "fps": cfg.FPS, "seed": cfg.Seed})
	fmt.Fprintln(cfg.Out, string(line))
	return nil
}

// crossingLen is how long one crossing lasts.
const crossingLen = 2.0

// crossingStarts draws n crossing start times: the first after 10 s (the gate's warm-up and first
// sleep), then 10-16 s apart, so the camera sleeps before each one.
func crossingStarts(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]float64, n)
	t := 10.0
	for i := range out {
		t += rng.Float64() * 4
		out[i] = math.Round(t*100) / 100
		t += 10 + crossingLen
	}
	return out
}

// encodeWakeScene encodes the scene with a 120x200 box crossing the frame from left to right during
// [s, s+2) for each start s; x264 veryfast, no B-frames, GOP 2 s.
func encodeWakeScene(path string, sc wakeScene, size string, fps int, starts []float64) error {
	w, _, _ := strings.Cut(size, "x")
	x := "-200"
	for i := len(starts) - 1; i >= 0; i-- {
		s := starts[i]
		x = fmt.Sprintf("if(between(t,%.2f,%.2f),(t-%.2f)*%s/%.0f,%s)", s, s+crossingLen, s, w, crossingLen, x)
	}
	dur := starts[len(starts)-1] + crossingLen + 8
	args := []string{"-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf(sc.Background, size, fps, fps),
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=%s:size=120x200:rate=%d", sc.Box, fps),
		"-filter_complex", fmt.Sprintf("[0][1]overlay=x='%s':y=200", x),
		"-t", strconv.FormatFloat(dur, 'f', 2, 64), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0",
		"-g", strconv.Itoa(2 * fps), "-keyint_min", strconv.Itoa(2 * fps), "-sc_threshold", "0"}
	args = append(args, sc.Rate...)
	args = append(args, "-pix_fmt", "yuv420p", "-f", "h264", path)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return nil
}

// wakeRun analyses one scene as a camera with the default pre-gate and motion gate, and scores its
// wake-ups and events against the crossings.
func wakeRun(clip, name string, model *pipeline.Model, starts []float64) (wakeResult, error) {
	cfg := config.Default()
	var wakes []source.Wake
	var events, plain []event.Event
	opts := pipeline.AnalyzeOptions{Classifier: model, Features: model.Features, Gate: cfg.Gate, Thresholds: cfg.Thresholds}
	if _, err := pipeline.AnalyzeFile(context.Background(), clip, opts, func(e event.Event) { plain = append(plain, e) }); err != nil {
		return wakeResult{}, err
	}
	opts.PreGate, opts.OnWake = &cfg.PreGate, func(w source.Wake) { wakes = append(wakes, w) }
	st, err := pipeline.AnalyzeFile(context.Background(), clip, opts, func(e event.Event) { events = append(events, e) })
	if err != nil {
		return wakeResult{}, err
	}
	r := wakeResult{Scene: name, Crossings: len(starts), WakeUps: len(wakes),
		EventsPreGate: len(events), EventsPlain: len(plain), Equal: sameEvents(events, plain, 2*time.Second)}
	if st.PreGate != nil {
		r.Decoded = st.PreGate.DecodeFraction
	}
	hold := config.DefaultPreGateHold.Seconds()
	var lat []float64
	for _, s := range starts {
		for _, w := range wakes {
			pts := w.PTS.Seconds()
			if pts < s || pts > s+crossingLen+hold {
				continue
			}
			r.Woken++
			lat = append(lat, pts-s)
			if w.Keyframe {
				r.ByKeyfr++
			}
			if w.ReplayFrom.Seconds() <= s {
				r.Covered++
			}
			break
		}
		for _, e := range events {
			es, ee := e.Start.Sub(time.Unix(0, 0)).Seconds(), e.End.Sub(time.Unix(0, 0)).Seconds()
			if strings.HasPrefix(e.Label, "object") || e.Label == "multi_object" {
				if es < s+crossingLen && ee > s {
					r.Events++
					break
				}
			}
		}
	}
	r.P50, r.P99, r.Max = nearestRank(lat, 0.5), nearestRank(lat, 0.99), nearestRank(lat, 1)
	return r, nil
}

// sameEvents reports whether a and b match one to one in order: same label, starts within tol.
func sameEvents(a, b []event.Event, tol time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		d := a[i].Start.Sub(b[i].Start)
		if a[i].Label != b[i].Label || d > tol || d < -tol {
			return false
		}
	}
	return true
}

// nearestRank is the q-quantile of xs by the nearest-rank method; 0 for none.
func nearestRank(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
