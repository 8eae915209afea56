package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/internal/bench"
	"github.com/mvwatch/mvwatch/pipeline"
)

// benchCommands are the `mvwatch bench` sub-commands (internal/bench); each ends its output with one
// JSON line of figures.
var benchCommands = map[string]func(args []string) int{
	"extract":   runBenchExtract,
	"serve":     runBenchServe,
	"caption":   runBenchCaption,
	"thumbnail": runBenchThumbnail,
	"soak":      runBenchSoak,
	"wake":      runBenchWake,
	"nats":      runBenchNATS,
}

func runBenchNATS(args []string) int {
	fs := flag.NewFlagSet("bench nats", flag.ContinueOnError)
	cfg := bench.NATSConfig{Out: os.Stdout, Log: os.Stderr}
	fs.IntVar(&cfg.Events, "events", 5000, "events through the stream in the throughput runs")
	fs.StringVar(&cfg.Cameras, "cameras", "100,500,1000", "camera counts of the lease runs")
	fs.StringVar(&cfg.Workers, "workers", "1,2", "worker counts of the lease runs")
	fs.DurationVar(&cfg.Hold, "hold", 15*time.Second, "time each lease run holds every camera, counting lost leases")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), bench.NATSUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return exitCode("nats", bench.NATS(cfg))
}

func runBenchSoak(args []string) int {
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	cfg := bench.SoakConfig{Out: os.Stdout, Log: os.Stderr}
	fs.IntVar(&cfg.Cameras, "cameras", 8, "healthy test cameras (one flapping and two hostile ones come on top)")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Minute, "soak time after the warm-up")
	fs.DurationVar(&cfg.Warmup, "warmup", 30*time.Second, "time before the first sample")
	fs.DurationVar(&cfg.Every, "every", 30*time.Second, "time between samples and between flaps")
	fs.Float64Var(&cfg.MaxRSSGrowthMB, "max-rss-growth-mb", 64, "fail when RSS grows by more than this")
	fs.IntVar(&cfg.MaxGoroutineGrowth, "max-goroutine-growth", 25, "fail when goroutines grow by more than this")
	fs.StringVar(&cfg.ModelDir, "model", pipeline.DefaultModelDir, "model directory")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), bench.SoakUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir, err := os.MkdirTemp("", "mvwatch-soak-")
	if err != nil {
		return exitCode("soak", err)
	}
	defer os.RemoveAll(dir)
	cfg.Dir = dir
	return exitCode("soak", bench.Soak(cfg))
}

func runBench(args []string) int {
	if len(args) == 0 || benchCommands[args[0]] == nil {
		fmt.Fprintln(os.Stderr, "usage: mvwatch bench NAME [flags]; names:")
		for name := range benchCommands {
			fmt.Fprintln(os.Stderr, "  "+name)
		}
		return 2
	}
	return benchCommands[args[0]](args[1:])
}

// exitCode reports a harness's error as `mvwatch bench NAME: ...` and exit status 1.
func exitCode(name string, err error) int {
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch bench %s: %v\n", name, err)
		return 1
	}
	return 0
}

func runBenchExtract(args []string) int {
	fs := flag.NewFlagSet("bench extract", flag.ContinueOnError)
	cfg := bench.ExtractConfig{Out: os.Stdout, Log: os.Stderr}
	fs.IntVar(&cfg.Threads, "threads", runtime.NumCPU(), "decoder threads, for mvwatch and for the ffmpeg CLI alike")
	fs.IntVar(&cfg.Runs, "runs", 3, "timed runs per mode (interleaved; the median counts)")
	fs.IntVar(&cfg.Streams, "streams", 4, "concurrent 720p streams for the memory figure")
	fs.IntVar(&cfg.Loops, "loops", 5, "passes over the 720p clip for the memory-flatness figure")
	fs.IntVar(&cfg.Seconds, "seconds", 10, "length of each generated clip")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), bench.ExtractUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.Files = fs.Args()
	return exitCode("extract", bench.Extract(cfg))
}

func runBenchWake(args []string) int {
	fs := flag.NewFlagSet("bench wake", flag.ContinueOnError)
	cfg := bench.WakeConfig{Out: os.Stdout, Log: os.Stderr}
	fs.StringVar(&cfg.Size, "size", "1280x720", "scene picture size")
	fs.IntVar(&cfg.FPS, "fps", 15, "scene frame rate")
	fs.IntVar(&cfg.Crossings, "crossings", 8, "object crossings per scene")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the crossings' times")
	fs.StringVar(&cfg.ModelDir, "model", pipeline.DefaultModelDir, "model directory")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), bench.WakeUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return exitCode("wake", bench.Wake(cfg))
}

func runBenchServe(args []string) int {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	cfg := bench.ServeConfig{Out: os.Stdout, Log: os.Stderr}
	fs.StringVar(&cfg.Cameras, "cameras", "8,16,32", "comma-separated camera counts to try")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measuring time per run")
	fs.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "time before measuring (gate warm-up, connections)")
	fs.StringVar(&cfg.Size, "size", "1280x720", "test camera picture size")
	fs.IntVar(&cfg.FPS, "fps", 15, "test camera frame rate")
	fs.StringVar(&cfg.Configs, "configs", "pregate,gate,plain", "configurations to compare: pregate (pre-decode gate + motion gate), gate (motion gate alone), plain")
	fs.IntVar(&cfg.CrossingEvery, "crossing-every", 20, "seconds between the test scene's 2 s object crossings (the clip's length)")
	fs.StringVar(&cfg.ModelDir, "model", pipeline.DefaultModelDir, "model directory")
	inProcess := fs.Bool("cameras-in-process", false, "serve the test cameras from this process instead of a child `mvwatch testcam` (their CPU then counts)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	fs.Uint64Var(&cfg.PhaseSeed, "phase-seed", 1, "start each test camera at a random keyframe drawn with this seed (0: all cameras in step)")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), bench.ServeUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return exitCode("serve", err)
		}
		cfg.CameraCommand = []string{exe, "testcam"}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return exitCode("serve", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return exitCode("serve", err)
		}
		defer pprof.StopCPUProfile()
	}
	return exitCode("serve", bench.Serve(cfg))
}

func runBenchCaption(args []string) int {
	fs := flag.NewFlagSet("bench caption", flag.ContinueOnError)
	var cf captionFlags
	cf.register(fs)
	cfg := bench.CaptionConfig{Out: os.Stdout}
	fs.IntVar(&cfg.N, "n", 60, "number of event prompts")
	fs.Float64Var(&cfg.Temperature, "temperature", 0.7, "temperature of the sampled run")
	fs.Uint64Var(&cfg.Seed, "seed", 7, "prompt and sampling seed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cf.draft == "none" {
		return exitCode("caption", fmt.Errorf("a draft model is needed"))
	}
	if err := cf.initRuntime(); err != nil {
		return exitCode("caption", err)
	}
	cfg.TargetDir, cfg.DraftDir, cfg.Generator, cfg.Threads = modelDir(cf.target), modelDir(cf.draft), cf.generator(), cf.threads
	return exitCode("caption", bench.Caption(cfg))
}

func runBenchThumbnail(args []string) int {
	fs := flag.NewFlagSet("bench thumbnail", flag.ContinueOnError)
	var tf thumbnailFlags
	tf.register(fs)
	fs.Lookup("scheduler").DefValue = "all"
	tf.scheduler = "all"
	fs.Lookup("scheduler").Usage = "scheduler to benchmark, or all: every scheduler the step predictor has a head for"
	cfg := bench.ThumbnailConfig{Out: os.Stdout}
	fs.StringVar(&cfg.PromptsFile, "prompts", "models/steppredictor/heldout.txt", "held-out prompts, one per line")
	fs.IntVar(&cfg.N, "n", 0, "use only the first N prompts (0: all)")
	fs.Uint64Var(&cfg.Seed, "seed", 1000, "seed of the first image (prompt i's k-th image uses seed + i*seeds + k)")
	fs.IntVar(&cfg.Seeds, "seeds", 1, "images (starting noises) per prompt")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Seeds < 1 || cfg.Seeds > 100 {
		return exitCode("thumbnail", fmt.Errorf("-seeds %d outside [1,100]", cfg.Seeds))
	}
	cfg.Scheduler = tf.scheduler
	if strings.EqualFold(strings.TrimSpace(tf.scheduler), "all") {
		tf.scheduler = "ddim" // open checks a scheduler name; the list comes from the predictor
	}
	p, pred, err := tf.open(true)
	if err != nil {
		return exitCode("thumbnail", err)
	}
	defer p.Close()
	defer pred.Close()
	cfg.Pipeline, cfg.Predictor = p, pred
	cfg.Guidance, cfg.DefaultSteps, cfg.Threads = tf.guidance, tf.defaultSteps, tf.threads
	cfg.PromptsFile = modelDir(cfg.PromptsFile)
	return exitCode("thumbnail", bench.Thumbnail(cfg))
}
