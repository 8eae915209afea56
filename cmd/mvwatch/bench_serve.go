package main

import (
	"encoding/json"
	"flag"
	"fmt"
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
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

// benchServeRun is one load level of `mvwatch bench serve`.
type benchServeRun struct {
	Cameras        int     `json:"cameras"`
	Config         string  `json:"config"` // pregate+gate, gate or plain
	Gate           bool    `json:"gate"`
	PreGate        bool    `json:"pregate"`
	DecodeFraction float64 `json:"decode_fraction"` // access units decoded, 1 without the pre-gate
	PreGateWakeUps float64 `json:"pregate_wake_ups"`
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

func runBenchServe(args []string) int {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	camList := fs.String("cameras", "8,16,32", "comma-separated camera counts to try")
	duration := fs.Duration("duration", 20*time.Second, "measuring time per run")
	warmup := fs.Duration("warmup", 5*time.Second, "time before measuring (gate warm-up, connections)")
	size := fs.String("size", "1280x720", "test camera picture size")
	fps := fs.Int("fps", 15, "test camera frame rate")
	configs := fs.String("configs", "pregate,gate,plain", "configurations to compare: pregate (pre-decode gate + motion gate), gate (motion gate alone), plain")
	period := fs.Int("crossing-every", 20, "seconds between the test scene's 2 s object crossings (the clip's length)")
	modelDir := fs.String("model", defaultModelDir, "model directory")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch bench serve [flags]\n\nRuns N built-in test cameras (a mostly idle scene: a static picture with sensor noise and one\nobject crossing every 20 s) through the whole serving pipeline in this process and reports how many\nstay real time with the pre-decode gate and the motion gate (pregate), the motion gate alone (gate) and\nplain decoding (plain), next to the decode limit of ffmpeg -threads 1 -flags2 +export_mvs on the same\nclip; then inference throughput at batch 1, 4, 8.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(os.Stderr, "mvwatch bench serve: %v\n", err); return 1 }
	dir, err := os.MkdirTemp("", "mvwatch-bench-serve-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	clip := filepath.Join(dir, "idle.264")
	fmt.Fprintf(os.Stderr, "generating %s (%s, %d fps) ...\n", clip, *size, *fps)
	if err := generateIdleScene(clip, *size, *fps, *period); err != nil {
		return fail(err)
	}
	cfgs, err := parseBenchConfigs(*configs)
	if err != nil {
		return fail(err)
	}
	perCore, decodeLimit, err := benchDecodeLimit(clip, *fps)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("decode limit: %.0f fps on one core (ffmpeg -threads 1 -flags2 +export_mvs), %.0f cameras on %d cores\n", perCore, decodeLimit, runtime.NumCPU())
	model, err := resolveModelDir(*modelDir)
	if err != nil {
		return fail(err)
	}
	var runs []benchServeRun
	best := 0
	for _, s := range strings.Split(*camList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fail(fmt.Errorf("bad camera count %q", s))
		}
		for _, c := range cfgs {
			r, err := benchServeOnce(clip, model, dir, n, c, *warmup, *duration)
			if err != nil {
				return fail(err)
			}
			runs = append(runs, r)
			fmt.Printf("cameras=%-3d %-12s realtime=%-3d fps min/mean %5.1f/%5.1f (sent %4.1f) decoded=%4.0f%% skip=%4.0f%% clips=%5.0f events=%4.0f latency p50/p99 %.2f/%.2fs rss/camera %.1f MB cpu %.2f s/s\n",
				r.Cameras, r.Config, r.Realtime, r.MinFPS, r.MeanFPS, r.SentFPS, 100*r.DecodeFraction, 100*r.SkipRatio, r.Clips, r.Events, r.LatencyP50, r.LatencyP99, r.RSSPerCameraMB, r.CPUSecondsPerS)
			if c == cfgs[0] && r.Realtime > best {
				best = r.Realtime // the most cameras the default configuration held at once
			}
		}
	}
	tp, err := inference.MeasureThroughput(model, inference.ThroughputConfig{BatchSizes: []int{1, 4, 8}})
	if err != nil {
		return fail(err)
	}
	speedup := 0.0
	for _, t := range tp {
		fmt.Printf("inference batch %d: %.1f clips/s (%.2fx batch 1)\n", t.Batch, t.ClipsPerSecond, t.Ratio)
		speedup = max(speedup, t.Ratio)
	}
	line, _ := json.Marshal(map[string]any{"cameras_realtime": best, "configs": summarizeBenchConfigs(cfgs, runs), "runs": runs,
		"decode_limit_fps_per_core": perCore, "decode_limit_cameras": decodeLimit,
		"batching": tp, "batch_speedup": speedup, "size": *size, "fps": *fps, "cpus": runtime.NumCPU()})
	fmt.Println(string(line))
	return 0
}

// generateIdleScene encodes a mostly idle camera scene: a static textured picture with temporal sensor
// noise, and a box crossing the frame for 2 s of every period seconds (at least 14). x264 veryfast, no
// B-frames, GOP 2 s.
func generateIdleScene(path, size string, fps, period int) error {
	period = max(period, 14)
	w, _, _ := strings.Cut(size, "x")
	out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d,trim=end_frame=1,loop=-1:1:0,setpts=N/%d/TB,noise=alls=4:allf=t", size, fps, fps),
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=white:size=120x200:rate=%d", fps),
		"-filter_complex", fmt.Sprintf("[0][1]overlay=x='if(between(t,%d,%d),(t-%d)*%s/2,-200)':y=200:shortest=1", period-8, period-6, period-8, w),
		"-t", strconv.Itoa(period), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", strconv.Itoa(2*fps),
		"-pix_fmt", "yuv420p", "-f", "h264", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return nil
}

func benchServeOnce(clip, modelDir, dir string, n int, bc benchConfig, warmup, duration time.Duration) (benchServeRun, error) {
	gate := bc.Gate
	res := benchServeRun{Cameras: n, Config: bc.Name, Gate: gate, PreGate: bc.PreGate}
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
	cfg.Listen.HTTP, cfg.Listen.RTSP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(dir, fmt.Sprintf("bench-%d-%s.db", n, strings.ReplaceAll(bc.Name, "+", "-")))
	cfg.Gate.Enabled = &gate
	pregate := bc.PreGate
	cfg.PreGate.Enabled = &pregate
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
	svc, err := pipeline.NewService(pipeline.ServiceOptions{Config: cfg, Classifier: model, Features: model.Features,
		Registry: reg, Metrics: metrics, Logger: log})
	if err != nil {
		return res, err
	}
	if err := svc.Start(); err != nil {
		return res, err
	}
	defer svc.Close()

	time.Sleep(warmup)
	states0 := make([]pipeline.CameraState, n)
	sent0 := make([]uint64, n)
	for i := range n {
		states0[i], _ = svc.Fleet().State(fmt.Sprintf("cam%d", i))
		sent0[i] = cams[i].Sent()
	}
	cpu0 := cpuSeconds()
	clips0 := counterSum(reg, "mvwatch_early_exits_total")
	time.Sleep(duration)
	cpu1 := cpuSeconds()
	res.MinFPS = math.Inf(1)
	for i := range n {
		st, _ := svc.Fleet().State(fmt.Sprintf("cam%d", i))
		got := float64(st.FramesDecoded - states0[i].FramesDecoded)
		sent := float64(cams[i].Sent() - sent0[i])
		fps := got / duration.Seconds()
		res.MinFPS = min(res.MinFPS, fps)
		res.MeanFPS += fps / float64(n)
		res.SentFPS += sent / duration.Seconds() / float64(n)
		res.SkipRatio += st.SkipRatio / float64(n)
		res.DecodeFraction += min(got/max(sent, 1), 1) / float64(n)
		if st.PreGate != nil && states0[i].PreGate != nil {
			res.PreGateWakeUps += float64(st.PreGate.WakeUps+st.PreGate.KeyframeWakeUps-states0[i].PreGate.WakeUps-states0[i].PreGate.KeyframeWakeUps) / float64(n)
		}
		if benchKeptUp(states0[i], st, sent, cams[i].Dropped() > 0) {
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
