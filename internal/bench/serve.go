// Package bench holds the `mvwatch bench` harnesses: extract (motion-vector extraction against the
// ffmpeg CLI), serve (cameras per process through internal/app), caption (speculative decoding) and
// thumbnail (adaptive diffusion steps). Each ends its report with one JSON line of figures.
package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/app"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

// serveRun is one load level of `mvwatch bench serve`.
type serveRun struct {
	Cameras        int     `json:"cameras"`
	Gate           bool    `json:"gate"`
	Realtime       int     `json:"realtime"` // cameras that decoded >= 95% of the frames sent, with no drops
	MinFPS         float64 `json:"min_fps"`
	MeanFPS        float64 `json:"mean_fps"`
	SentFPS        float64 `json:"sent_fps"` // mean frame rate the test cameras sent
	SkipRatio      float64 `json:"gate_skip_ratio"`
	Clips          float64 `json:"clips_classified"`
	Events         float64 `json:"events"`
	LatencyP50     float64 `json:"event_latency_p50_s"`
	LatencyP99     float64 `json:"event_latency_p99_s"`
	RSSPerCameraMB float64 `json:"rss_per_camera_mb"`
	CPUSecondsPerS float64 `json:"cpu_seconds_per_s"`
}

// ServeConfig configures Serve; the zero value of a field means its default.
type ServeConfig struct {
	// Cameras is a comma-separated list of camera counts to try. It defaults to "8,16,32".
	Cameras string
	// Duration is the measuring time per run. It defaults to 20s.
	Duration time.Duration
	// Warmup is the time before measuring (gate warm-up, connections). It defaults to 5s.
	Warmup time.Duration
	// Size is the test camera picture size. It defaults to "1280x720".
	Size string
	// FPS is the test camera frame rate. It defaults to 15.
	FPS int
	// Gate lists the motion gate settings to compare: "on", "off" or "on,off" (the default).
	Gate string
	// ModelDir is the model directory. It defaults to pipeline.DefaultModelDir.
	ModelDir string
	// Out receives the report (one line per run, then one JSON line); Log the progress.
	Out, Log io.Writer
}

// ServeUsage describes `mvwatch bench serve`.
const ServeUsage = "usage: mvwatch bench serve [flags]\n\nRuns N built-in test cameras (a mostly idle scene: a static picture with sensor noise and one\nobject crossing every 20 s) through the whole serving pipeline in this process and reports how many\nstay real time, with the motion gate on and off; then inference throughput at batch 1, 4, 8."

// Serve runs the serving benchmark: for each camera count and gate setting, that many built-in test
// cameras through one internal/app assembly, as `mvwatch serve` runs them.
func Serve(cfg ServeConfig) error {
	cfg.Cameras = cmp.Or(cfg.Cameras, "8,16,32")
	cfg.Duration = cmp.Or(cfg.Duration, 20*time.Second)
	cfg.Warmup = cmp.Or(cfg.Warmup, 5*time.Second)
	cfg.Size = cmp.Or(cfg.Size, "1280x720")
	cfg.FPS = cmp.Or(cfg.FPS, 15)
	cfg.Gate = cmp.Or(cfg.Gate, "on,off")
	cfg.ModelDir = cmp.Or(cfg.ModelDir, pipeline.DefaultModelDir)
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	cfg.Log = cmp.Or[io.Writer](cfg.Log, io.Discard)
	dir, err := os.MkdirTemp("", "mvwatch-bench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clip := filepath.Join(dir, "idle.264")
	fmt.Fprintf(cfg.Log, "generating %s (%s, %d fps) ...\n", clip, cfg.Size, cfg.FPS)
	if err := generateIdleScene(clip, cfg.Size, cfg.FPS); err != nil {
		return err
	}
	model, err := pipeline.ResolveModelDir(cfg.ModelDir)
	if err != nil {
		return err
	}
	var runs []serveRun
	best := 0
	for _, s := range strings.Split(cfg.Cameras, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad camera count %q", s)
		}
		for _, g := range strings.Split(cfg.Gate, ",") {
			gate := strings.TrimSpace(g) == "on"
			r, err := serveOnce(clip, model, dir, n, gate, cfg.Warmup, cfg.Duration)
			if err != nil {
				return err
			}
			runs = append(runs, r)
			fmt.Fprintf(cfg.Out, "cameras=%-3d gate=%-5v realtime=%-3d fps min/mean %5.1f/%5.1f (sent %4.1f) skip=%4.0f%% clips=%5.0f events=%4.0f latency p50/p99 %.2f/%.2fs rss/camera %.1f MB cpu %.2f s/s\n",
				r.Cameras, r.Gate, r.Realtime, r.MinFPS, r.MeanFPS, r.SentFPS, 100*r.SkipRatio, r.Clips, r.Events, r.LatencyP50, r.LatencyP99, r.RSSPerCameraMB, r.CPUSecondsPerS)
			if gate && r.Realtime == n && n > best {
				best = n
			}
		}
	}
	tp, err := inference.MeasureThroughput(model, inference.ThroughputConfig{BatchSizes: []int{1, 4, 8}})
	if err != nil {
		return err
	}
	speedup := 0.0
	for _, t := range tp {
		fmt.Fprintf(cfg.Out, "inference batch %d: %.1f clips/s (%.2fx batch 1)\n", t.Batch, t.ClipsPerSecond, t.Ratio)
		speedup = max(speedup, t.Ratio)
	}
	line, _ := json.Marshal(map[string]any{"cameras_realtime": best, "runs": runs, "batching": tp, "batch_speedup": speedup,
		"size": cfg.Size, "fps": cfg.FPS, "cpus": runtime.NumCPU()})
	fmt.Fprintln(cfg.Out, string(line))
	return nil
}

// generateIdleScene encodes a mostly idle camera scene: a static textured picture with temporal sensor
// noise, and a box crossing the frame for 2 s of every 20 s. x264 veryfast, no B-frames, GOP 2 s.
func generateIdleScene(path, size string, fps int) error {
	w, _, _ := strings.Cut(size, "x")
	out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d,trim=end_frame=1,loop=-1:1:0,setpts=N/%d/TB,noise=alls=4:allf=t", size, fps, fps),
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=white:size=120x200:rate=%d", fps),
		"-filter_complex", fmt.Sprintf("[0][1]overlay=x='if(between(t,12,14),(t-12)*%s/2,-200)':y=200:shortest=1", w),
		"-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", strconv.Itoa(2*fps),
		"-pix_fmt", "yuv420p", "-f", "h264", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return nil
}

func serveOnce(clip, modelDir, dir string, n int, gate bool, warmup, duration time.Duration) (serveRun, error) {
	res := serveRun{Cameras: n, Gate: gate}
	log := slog.New(slog.DiscardHandler)
	runtime.GC()
	rss0 := rssMB()
	var cams []*testcam.Camera
	defer func() {
		for _, c := range cams {
			c.Close()
		}
	}()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(dir, fmt.Sprintf("bench-%d-%v.db", n, gate))
	cfg.Gate.Enabled = &gate
	for i := range n {
		src, err := ingest.OpenAnnexB(clip, ingest.AnnexBOptions{Loop: true})
		if err != nil {
			return res, err
		}
		cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src, Log: log})
		if err := cam.Start(); err != nil {
			return res, err
		}
		cams = append(cams, cam)
		cfg.Cameras = append(cfg.Cameras, config.Camera{Name: fmt.Sprintf("cam%d", i), URL: cam.URL()})
	}
	reg := prometheus.NewRegistry()
	metrics, err := pipeline.NewMetrics(reg)
	if err != nil {
		return res, err
	}
	model, err := pipeline.LoadModel(modelDir, pipeline.ModelOptions{Inference: cfg.Inference, Metrics: metrics})
	if err != nil {
		return res, err
	}
	defer model.Close()
	svc, err := app.New(app.Options{Config: cfg, Classifier: model, Features: model.Features,
		Registry: reg, WorkerMetrics: metrics, Logger: log})
	if err != nil {
		return res, err
	}
	if err := svc.Start(); err != nil {
		return res, err
	}
	defer svc.Close()

	time.Sleep(warmup)
	frames0 := make([]uint64, n)
	sent0 := make([]uint64, n)
	for i := range n {
		st, _ := svc.Fleet().State(fmt.Sprintf("cam%d", i))
		frames0[i], sent0[i] = st.FramesDecoded, cams[i].Sent()
	}
	cpu0 := cpuSeconds()
	clips0 := counterSum(reg, "mvwatch_early_exits_total")
	time.Sleep(duration)
	cpu1 := cpuSeconds()
	res.MinFPS = math.Inf(1)
	for i := range n {
		st, _ := svc.Fleet().State(fmt.Sprintf("cam%d", i))
		got := float64(st.FramesDecoded - frames0[i])
		sent := float64(cams[i].Sent() - sent0[i])
		fps := got / duration.Seconds()
		res.MinFPS = min(res.MinFPS, fps)
		res.MeanFPS += fps / float64(n)
		res.SentFPS += sent / duration.Seconds() / float64(n)
		res.SkipRatio += st.SkipRatio / float64(n)
		if sent > 0 && got >= 0.95*sent && cams[i].Dropped() == 0 {
			res.Realtime++
		}
	}
	res.RSSPerCameraMB = (rssMB() - rss0) / float64(n)
	res.CPUSecondsPerS = (cpu1 - cpu0) / duration.Seconds()
	res.Clips = counterSum(reg, "mvwatch_early_exits_total") - clips0
	res.Events = counterSum(reg, "mvwatch_events_total")
	res.LatencyP50, res.LatencyP99 = histogramQuantile(reg, "mvwatch_event_latency_seconds", 0.5), histogramQuantile(reg, "mvwatch_event_latency_seconds", 0.99)
	return res, nil
}

// counterSum adds up every series of a counter family.
func counterSum(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// histogramQuantile estimates a quantile of a histogram by linear interpolation inside its bucket.
func histogramQuantile(reg *prometheus.Registry, name string, q float64) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		total := float64(h.GetSampleCount())
		if total == 0 {
			return 0
		}
		buckets := append([]*dto.Bucket(nil), h.GetBucket()...)
		sort.Slice(buckets, func(i, j int) bool { return buckets[i].GetUpperBound() < buckets[j].GetUpperBound() })
		prevBound, prevCount := 0.0, 0.0
		for _, b := range buckets {
			c := float64(b.GetCumulativeCount())
			if c >= q*total {
				if c == prevCount {
					return b.GetUpperBound()
				}
				return prevBound + (b.GetUpperBound()-prevBound)*(q*total-prevCount)/(c-prevCount)
			}
			prevBound, prevCount = b.GetUpperBound(), c
		}
		return prevBound
	}
	return 0
}

// cpuSeconds reads this process's user+system CPU time from /proc/self/stat.
func cpuSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // USER_HZ
}
