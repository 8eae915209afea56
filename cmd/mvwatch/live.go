package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/mvextract"
)

// liveStats accumulates one camera's figures between two summary lines.
type liveStats struct {
	mu        sync.Mutex
	state     ingest.State
	frames    int
	vectors   int
	motion    float64 // sum of |motion| in pixels over all vectors
	residual  float64 // sum of mean |residual| over frames with a reference
	resFrames int
	types     map[byte]int
	src       *source.Source // for the pre-gate's state; nil until started
}

func runLive(args []string) int {
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	threads := fs.Int("threads", 1, "decoder threads per camera")
	transport := fs.String("transport", "tcp", "tcp, udp or auto")
	pregate := fs.Bool("pregate", true, "pre-decode gate: leave idle stretches undecoded (the pregate column shows asleep/awake and the fraction decoded)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch live [flags] [RTSP_URL...]\n\nExtracts motion vectors and residuals live and prints one summary line per camera per second.\nWithout URLs it starts the built-in test camera and watches it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	urls := fs.Args()
	if len(urls) == 0 {
		src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
		if err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch live: test camera: %v\n", err)
			return 1
		}
		cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src, Log: log})
		if err := cam.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "mvwatch live: test camera: %v\n", err)
			return 1
		}
		defer cam.Close()
		fmt.Printf("built-in test camera at %s\n", cam.URL())
		urls = []string{cam.URL()}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	stats := make([]*liveStats, len(urls))
	var wg sync.WaitGroup
	for i, url := range urls {
		st := &liveStats{state: ingest.StateIdle, types: map[byte]int{}}
		stats[i] = st
		name := fmt.Sprintf("cam%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex := mvextract.NewExtractor(mvextract.ExtractorConfig{})
			var pg *source.PreGate
			if *pregate {
				pg = &source.PreGate{}
			}
			src := source.New(source.Config{
				PreGate: pg, OnGap: ex.Reset,
				Input: url, Camera: name, Transport: *transport, Log: log,
				Decoder: demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: *threads},
				OnState: func(cs ingest.ClientState) {
					st.mu.Lock()
					st.state = cs.State
					st.mu.Unlock()
					if cs.State == ingest.StateBackoff || cs.State == ingest.StateFailed {
						fmt.Printf("%s: %s: %s\n", name, cs.State, cs.Reason)
					}
				},
			})
			st.mu.Lock()
			st.src = src
			st.mu.Unlock()
			err := src.Run(ctx, func(f *media.Frame) error {
				ft, err := ex.Process(f)
				if err != nil {
					return err
				}
				st.add(ft)
				return nil
			})
			if err != nil && ctx.Err() == nil {
				fmt.Printf("%s: stopped: %v\n", name, err)
			}
		}()
	}

	fmt.Printf("%-5s %-10s %6s %9s %10s %11s %-15s %s\n", "cam", "state", "fps", "mvs/frame", "mean|mv|px", "mean|res|", "types", "pregate")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			for i, st := range stats {
				fmt.Println(st.summary(fmt.Sprintf("cam%d", i)))
			}
		}
	}
	wg.Wait()
	return 0
}

func (s *liveStats) add(ft *mvextract.Features) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames++
	s.types[ft.PictType]++
	s.vectors += len(ft.Vectors)
	for _, v := range ft.Vectors {
		if v.MotionScale > 0 {
			s.motion += math.Hypot(float64(v.MotionX), float64(v.MotionY)) / float64(v.MotionScale)
		}
	}
	if ft.HasResidual && ft.HasReference {
		var sum int64
		for _, r := range ft.Residual {
			if r < 0 {
				r = -r
			}
			sum += int64(r)
		}
		s.residual += float64(sum) / float64(len(ft.Residual))
		s.resFrames++
	}
}

// summary renders and resets the figures of the last second.
func (s *liveStats) summary(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	perFrame, meanMV, meanRes := 0.0, 0.0, 0.0
	if s.frames > 0 {
		perFrame = float64(s.vectors) / float64(s.frames)
	}
	if s.vectors > 0 {
		meanMV = s.motion / float64(s.vectors)
	}
	if s.resFrames > 0 {
		meanRes = s.residual / float64(s.resFrames)
	}
	line := fmt.Sprintf("%-5s %-10s %6d %9.0f %10.2f %11.2f %-15s %s", name, s.state, s.frames, perFrame, meanMV, meanRes,
		fmt.Sprintf("I%d P%d B%d", s.types['I'], s.types['P'], s.types['B']), s.preGate())
	s.frames, s.vectors, s.motion, s.residual, s.resFrames = 0, 0, 0, 0, 0
	clear(s.types)
	return line
}

// preGate renders the pre-gate's state: asleep or awake, wake-ups, the GOP buffer and the fraction
// of access units decoded; "off" without one. Called with s.mu held.
func (s *liveStats) preGate() string {
	if s.src == nil {
		return "off"
	}
	st, ok := s.src.PreGateState()
	if !ok {
		return "off"
	}
	state := "awake"
	if !st.Awake {
		state = "asleep"
	}
	if st.Fallback != "" {
		state = "fallback:" + string(st.Fallback)
	}
	return fmt.Sprintf("%s wake-ups %d+%d buffered %d (%d KiB) decoded %.0f%%", state, st.WakeUps, st.KeyframeWakeUps,
		st.BufferedUnits, st.BufferedBytes>>10, 100*st.DecodeFraction())
}
