package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/mvextract"
)

// benchExtractResult is the JSON line `mvwatch bench extract` ends with.
type benchExtractResult struct {
	Threads         int                `json:"threads"`
	Files           []benchExtractFile `json:"files"`
	RatioMV         float64            `json:"ratio_mv"`          // worst file: MVs alone / ffmpeg decode
	RatioMVResidual float64            `json:"ratio_mv_residual"` // worst file: MVs + residuals / ffmpeg decode
	Streams         int                `json:"streams"`
	RSSPerStreamMB  float64            `json:"rss_per_stream_mb"` // 720p, MVs + residuals, threads=1 each
	Loops           int                `json:"loops"`
	RSSFirstLoopMB  float64            `json:"rss_first_loop_mb"`
	RSSLastLoopMB   float64            `json:"rss_last_loop_mb"`
	HeapFirstLoopMB float64            `json:"heap_first_loop_mb"`
	HeapLastLoopMB  float64            `json:"heap_last_loop_mb"`
	FramesLong      int64              `json:"frames_long"`
}

type benchExtractFile struct {
	Name          string  `json:"name"`
	Frames        int     `json:"frames"`
	FFmpegFPS     float64 `json:"ffmpeg_fps"`
	MVFPS         float64 `json:"mv_fps"`
	MVResidualFPS float64 `json:"mv_residual_fps"`
	RatioMV       float64 `json:"ratio_mv"`
	RatioMVRes    float64 `json:"ratio_mv_residual"`
}

// ExtractConfig configures Extract; the zero value of a field means its default.
type ExtractConfig struct {
	// Threads is the decoder thread count, for mvwatch and the ffmpeg CLI alike. It defaults to the
	// number of CPUs.
	Threads int
	// Runs is the number of timed runs per mode (interleaved; the median counts). It defaults to 3.
	Runs int
	// Streams is the number of concurrent 720p streams for the memory figure. It defaults to 4.
	Streams int
	// Loops is the number of passes over the 720p clip for the memory-flatness figure. It defaults to 5.
	Loops int
	// Seconds is the length of each generated clip. It defaults to 10.
	Seconds int
	// Files are the inputs; without any, 720p and 1080p clips are generated with the ffmpeg CLI.
	Files []string
	// Out receives the report (a table, then one JSON line); Log the progress.
	Out, Log io.Writer
}

// ExtractUsage describes `mvwatch bench extract`.
const ExtractUsage = "usage: mvwatch bench extract [flags] [FILE...]\n\nWithout files it generates 720p and 1080p H.264 clips (x264, no B-frames, 25 fps) with the ffmpeg CLI.\nEach file is decoded by `ffmpeg -threads N -flags2 +export_mvs -i FILE -f null -` and by mvwatch (MVs alone;\nMVs + residuals) in the same run; the ratios are mvwatch fps / ffmpeg fps."

// Extract runs the extraction benchmark.
func Extract(cfg ExtractConfig) error {
	cfg.Threads = cmp.Or(cfg.Threads, runtime.NumCPU())
	cfg.Runs = cmp.Or(cfg.Runs, 3)
	cfg.Streams = cmp.Or(cfg.Streams, 4)
	cfg.Loops = cmp.Or(cfg.Loops, 5)
	cfg.Seconds = cmp.Or(cfg.Seconds, 10)
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	cfg.Log = cmp.Or[io.Writer](cfg.Log, io.Discard)
	files := cfg.Files
	if len(files) == 0 {
		dir, err := os.MkdirTemp("", "mvwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		for _, size := range []string{"1280x720", "1920x1080"} {
			p := filepath.Join(dir, "bench_"+size+".mp4")
			fmt.Fprintf(cfg.Log, "generating %s ...\n", p)
			if err := generateClip(p, size, cfg.Seconds); err != nil {
				return err
			}
			files = append(files, p)
		}
	}
	res, err := benchExtract(files, cfg.Threads, cfg.Runs, cfg.Streams, cfg.Loops)
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "%-22s %7s %10s %10s %10s %8s %8s\n", "file", "frames", "ffmpeg/s", "mv/s", "mv+res/s", "mv", "mv+res")
	for _, f := range res.Files {
		fmt.Fprintf(cfg.Out, "%-22s %7d %10.1f %10.1f %10.1f %7.2fx %7.2fx\n", f.Name, f.Frames, f.FFmpegFPS, f.MVFPS, f.MVResidualFPS, f.RatioMV, f.RatioMVRes)
	}
	fmt.Fprintf(cfg.Out, "memory: %.1f MB RSS per concurrent 720p stream (%d streams); over %d loops RSS %.1f -> %.1f MB, Go heap %.1f -> %.1f MB\n",
		res.RSSPerStreamMB, res.Streams, res.Loops, res.RSSFirstLoopMB, res.RSSLastLoopMB, res.HeapFirstLoopMB, res.HeapLastLoopMB)
	line, _ := json.Marshal(res)
	fmt.Fprintln(cfg.Out, string(line))
	return nil
}

// generateClip encodes a camera-like test clip: moving test pattern with temporal sensor noise.
func generateClip(path, size string, seconds int) error {
	out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi",
		"-i", "testsrc2=size="+size+":rate=25,noise=alls=6:allf=t", "-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "50", "-pix_fmt", "yuv420p", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return nil
}

func benchExtract(files []string, threads, runs, streams, loops int) (*benchExtractResult, error) {
	res := &benchExtractResult{Threads: threads, RatioMV: -1, RatioMVResidual: -1}
	for _, path := range files {
		var ff, mv, mvr []float64
		var frames int
		for r := 0; r < runs; r++ { // interleaved, so drift in machine load hits all three alike
			fps, err := ffmpegDecodeFPS(path, threads)
			if err != nil {
				return nil, err
			}
			ff = append(ff, fps)
			n, fps, err := decodeFPS(path, threads, false)
			if err != nil {
				return nil, err
			}
			mv = append(mv, fps)
			frames = n
			_, fps, err = decodeFPS(path, threads, true)
			if err != nil {
				return nil, err
			}
			mvr = append(mvr, fps)
		}
		f := benchExtractFile{Name: filepath.Base(path), Frames: frames, FFmpegFPS: median(ff), MVFPS: median(mv), MVResidualFPS: median(mvr)}
		f.RatioMV = f.MVFPS / f.FFmpegFPS
		f.RatioMVRes = f.MVResidualFPS / f.FFmpegFPS
		res.Files = append(res.Files, f)
		if res.RatioMV < 0 || f.RatioMV < res.RatioMV {
			res.RatioMV = f.RatioMV
		}
		if res.RatioMVResidual < 0 || f.RatioMVRes < res.RatioMVResidual {
			res.RatioMVResidual = f.RatioMVRes
		}
	}
	if streams > 0 {
		per, err := rssPerStream(files[0], streams)
		if err != nil {
			return nil, err
		}
		res.Streams, res.RSSPerStreamMB = streams, per
	}
	if loops > 0 {
		if err := memoryFlatness(files[0], loops, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

var rtimeRE = regexp.MustCompile(`rtime=([0-9.]+)s`)

// ffmpegDecodeFPS runs the ffmpeg CLI baseline and returns frames per second of its decode loop, using
// its own -benchmark real time (process start-up excluded).
func ffmpegDecodeFPS(path string, threads int) (float64, error) {
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-threads", strconv.Itoa(threads),
		"-flags2", "+export_mvs", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg baseline: %w: %s", err, out)
	}
	m := rtimeRE.FindSubmatch(out)
	fr := regexp.MustCompile(`frame=\s*([0-9]+)`).FindAllSubmatch(out, -1)
	if m == nil || len(fr) == 0 {
		return 0, fmt.Errorf("ffmpeg baseline: cannot read timing from output: %s", out)
	}
	secs, _ := strconv.ParseFloat(string(m[1]), 64)
	frames, _ := strconv.Atoi(string(fr[len(fr)-1][1]))
	return float64(frames) / secs, nil
}

// decodeFPS decodes path with mvwatch: MVs parsed into the dense field, plus residuals when residual.
func decodeFPS(path string, threads int, residual bool) (int, float64, error) {
	f, err := demux.OpenFile(path, demux.DecoderConfig{MotionVectors: true, Pixels: residual, Threads: threads})
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{NoResidual: !residual})
	n := 0
	start := time.Now()
	err = f.Run(context.Background(), func(fr *media.Frame) error {
		n++
		_, err := ex.Process(fr)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return n, float64(n) / time.Since(start).Seconds(), nil
}

// rssPerStream decodes path (MVs + residuals, one thread each) in n goroutines at once and returns the
// peak resident memory above the idle process, divided by n.
func rssPerStream(path string, n int) (float64, error) {
	runtime.GC()
	base := rssMB()
	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v := int64(rssMB() * 1024); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = decodeFPS(path, 1, true)
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return (float64(peak.Load())/1024 - base) / float64(n), nil
}

// memoryFlatness decodes path loops times through one Extractor and records RSS and Go heap after the
// first and the last pass: growth per frame would show as a rising figure.
func memoryFlatness(path string, loops int, res *benchExtractResult) error {
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{})
	for i := range loops {
		f, err := demux.OpenFile(path, demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1})
		if err != nil {
			return err
		}
		err = f.Run(context.Background(), func(fr *media.Frame) error {
			res.FramesLong++
			_, err := ex.Process(fr)
			return err
		})
		f.Close()
		if err != nil {
			return err
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap := float64(ms.HeapInuse) / (1 << 20)
		if i == 0 {
			res.RSSFirstLoopMB, res.HeapFirstLoopMB = rssMB(), heap
		}
		res.RSSLastLoopMB, res.HeapLastLoopMB = rssMB(), heap
	}
	res.Loops = loops
	return nil
}

// rssMB reads the resident set size of this process from /proc/self/statm.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(fields[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
