package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/natsbus"
	"github.com/mvwatch/mvwatch/internal/store"
)

// NATSConfig configures NATS; the zero value of a field means its default.
type NATSConfig struct {
	// Events is how many events go through the stream in the throughput run. It defaults to 5000.
	Events int
	// Cameras is a comma-separated list of camera counts for the lease runs. It defaults to
	// "100,500,1000".
	Cameras string
	// Workers is a comma-separated list of worker counts for the lease runs. It defaults to "1,2".
	Workers string
	// Hold is how long each lease run keeps every camera assigned, counting lease losses. It
	// defaults to 15s.
	Hold time.Duration
	// Out receives the report (one line per run, then one JSON line); Log the progress.
	Out, Log io.Writer
}

// NATSUsage describes `mvwatch bench nats`.
const NATSUsage = "usage: mvwatch bench nats [flags]\n\nMeasures the NATS JetStream bus on an embedded server over loopback TCP: events per second end to\nend (worker publish -> EVENTS stream -> the events node's durable consumer -> the bbolt store's fsync ->\nack), with the stream-only rate (acked without a store) beside it; then, for each worker and camera\ncount, how long the leases take to place every camera and whether they hold (no lease lost) while each\nworker renews its leases and writes its cameras' states."

// natsEventsRun is one throughput run.
type natsEventsRun struct {
	Store        bool    `json:"store"`
	Events       int     `json:"events"`
	EventsPerSec float64 `json:"events_per_s"`
	P50Ms        float64 `json:"latency_p50_ms"`
	P99Ms        float64 `json:"latency_p99_ms"`
}

// natsLeaseRun is one lease run.
type natsLeaseRun struct {
	Workers      int     `json:"workers"`
	Cameras      int     `json:"cameras"`
	PlaceSeconds float64 `json:"place_s"`
	PerWorker    []int   `json:"per_worker"`
	Losses       int     `json:"lease_losses"`
	Held         bool    `json:"held"`
}

// NATS runs the NATS benchmark.
func NATS(cfg NATSConfig) error {
	cfg.Events = cmp.Or(cfg.Events, 5000)
	cfg.Cameras = cmp.Or(cfg.Cameras, "100,500,1000")
	cfg.Workers = cmp.Or(cfg.Workers, "1,2")
	cfg.Hold = cmp.Or(cfg.Hold, 15*time.Second)
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	cfg.Log = cmp.Or[io.Writer](cfg.Log, io.Discard)
	cams, err := parseInts(cfg.Cameras)
	if err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	workers, err := parseInts(cfg.Workers)
	if err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	var result struct {
		Events []natsEventsRun `json:"events"`
		Leases []natsLeaseRun  `json:"leases"`
	}
	for _, withStore := range []bool{false, true} {
		r, err := natsEvents(cfg, withStore)
		if err != nil {
			return err
		}
		fmt.Fprintf(cfg.Out, "events: store=%v  %d events  %.0f events/s  latency p50 %.1f ms  p99 %.1f ms\n",
			r.Store, r.Events, r.EventsPerSec, r.P50Ms, r.P99Ms)
		result.Events = append(result.Events, r)
	}
	for _, w := range workers {
		for _, c := range cams {
			fmt.Fprintf(cfg.Log, "leases: %d workers, %d cameras ...\n", w, c)
			r, err := natsLeases(cfg, w, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cfg.Out, "leases: %d workers  %d cameras  placed in %.1f s  per worker %v  lease losses over %v: %d\n",
				r.Workers, r.Cameras, r.PlaceSeconds, r.PerWorker, cfg.Hold, r.Losses)
			result.Leases = append(result.Leases, r)
		}
	}
	b, _ := json.Marshal(result)
	fmt.Fprintln(cfg.Out, string(b))
	return nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// natsNode is a server on loopback TCP with the connections of the run.
type natsServer struct {
	srv   *natsbus.Server
	dir   string
	conns []*natsbus.Conn
	buses []*natsbus.Bus
}

func startNATSServer() (*natsServer, error) {
	dir, err := os.MkdirTemp("", "mvwatch-bench-nats-")
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	srv, err := natsbus.StartServer(natsbus.ServerConfig{DataDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &natsServer{srv: srv, dir: dir}, nil
}

func (s *natsServer) bus(cfg natsbus.BusConfig) (*natsbus.Bus, error) {
	quiet := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := natsbus.Connect(ctx, natsbus.ConnConfig{URL: s.srv.ClientURL(), Logger: quiet}, nil)
	if err != nil {
		return nil, err
	}
	s.conns = append(s.conns, c)
	cfg.Logger = quiet
	b, err := natsbus.OpenBus(ctx, c, nil, cfg)
	if err != nil {
		return nil, err
	}
	s.buses = append(s.buses, b)
	return b, nil
}

func (s *natsServer) close() {
	for _, b := range slices.Backward(s.buses) {
		b.Close()
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.srv.Shutdown()
	os.RemoveAll(s.dir)
}

// natsEvents publishes cfg.Events events from a worker bus and takes them on an events bus, stored
// in a bbolt store (each acknowledged after its fsync) or, without the store, acknowledged at once.
func natsEvents(cfg NATSConfig, withStore bool) (natsEventsRun, error) {
	s, err := startNATSServer()
	if err != nil {
		return natsEventsRun{}, err
	}
	defer s.close()
	var st *store.Store
	if withStore {
		if st, err = store.Open(filepath.Join(s.dir, "events.db"), store.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
			return natsEventsRun{}, err
		}
		defer st.Close()
	}
	w, err := s.bus(natsbus.BusConfig{Node: "w1", Worker: true, Publisher: natsbus.PublisherConfig{Buffer: cfg.Events}})
	if err != nil {
		return natsEventsRun{}, err
	}
	e, err := s.bus(natsbus.BusConfig{Events: true})
	if err != nil {
		return natsEventsRun{}, err
	}
	var mu sync.Mutex // sent, lat, werr
	sent := make([]time.Time, cfg.Events)
	ids := make(map[string]int, cfg.Events)
	evs := make([]event.Event, cfg.Events)
	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	for i := range evs {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		evs[i] = event.Event{ID: event.NewEventID(at), Camera: fmt.Sprintf("cam%d", i%16), Label: "person", Score: 0.9, Start: at, End: at.Add(time.Second)}
		ids[evs[i].ID] = i
	}
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		for i, ev := range evs {
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			w.PublishEvent(ev)
		}
	}()
	lat := make([]float64, 0, cfg.Events)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// As the App's writer: 8 goroutines, each event acknowledged after its store write.
	var werr error
	var writers sync.WaitGroup
	for range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				mu.Lock()
				done := len(lat) >= cfg.Events || werr != nil
				mu.Unlock()
				if done {
					return
				}
				short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
				d, err := e.NextDelivery(short)
				stop()
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					continue
				}
				if err == nil && st != nil {
					err = st.Publish(ctx, d.Event)
				}
				if err == nil {
					d.Done(nil)
				}
				mu.Lock()
				if err != nil {
					werr = err
				} else {
					lat = append(lat, float64(time.Since(sent[ids[d.Event.ID]]).Microseconds())/1000)
				}
				mu.Unlock()
			}
		}()
	}
	writers.Wait()
	elapsed := time.Since(start)
	wg.Wait()
	if werr != nil {
		return natsEventsRun{}, fmt.Errorf("events: %d of %d stored: %w", len(lat), cfg.Events, werr)
	}
	sort.Float64s(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return natsEventsRun{Store: withStore, Events: cfg.Events, EventsPerSec: float64(cfg.Events) / elapsed.Seconds(),
		P50Ms: q(0.5), P99Ms: q(0.99)}, nil
}

// natsLeases adds cameras to the camera set and measures how long workers take to hold them all,
// then holds them for cfg.Hold and counts the camera changes (a lease lost moves a camera).
func natsLeases(cfg NATSConfig, workers, cameras int) (natsLeaseRun, error) {
	s, err := startNATSServer()
	if err != nil {
		return natsLeaseRun{}, err
	}
	defer s.close()
	api, err := s.bus(natsbus.BusConfig{Events: true})
	if err != nil {
		return natsLeaseRun{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range cameras {
		if err := api.Cameras().Add(ctx, config.Camera{Name: fmt.Sprintf("cam%04d", i), URL: "rtsp://127.0.0.1:8554/cam"}); err != nil {
			return natsLeaseRun{}, err
		}
	}
	fleets := make([]*bus.MemCameras, workers)
	start := time.Now()
	for i := range fleets {
		fleets[i] = bus.NewMemCameras()
		w, err := s.bus(natsbus.BusConfig{Node: fmt.Sprintf("w%d", i+1), Worker: true})
		if err != nil {
			return natsLeaseRun{}, err
		}
		w.ServeCameras(fleets[i])
	}
	total := func() int {
		n := 0
		for _, f := range fleets {
			n += f.Len()
		}
		return n
	}
	for total() < cameras || (workers > 1 && !balanced(fleets, cameras)) {
		if time.Since(start) > 3*time.Minute {
			return natsLeaseRun{}, errors.New("leases: cameras not placed within 3 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := natsLeaseRun{Workers: workers, Cameras: cameras, PlaceSeconds: time.Since(start).Seconds()}
	// Hold: every camera must stay on its worker (a lost lease drops it, even for a round).
	placed := make([]map[string]bool, workers)
	for i, f := range fleets {
		placed[i] = map[string]bool{}
		for _, c := range f.List() {
			placed[i][c.Name] = true
		}
	}
	lost := map[string]bool{}
	for end := time.Now().Add(cfg.Hold); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for i, f := range fleets {
			for name := range placed[i] {
				if _, err := f.Get(name); err != nil {
					lost[name] = true
				}
			}
		}
	}
	for _, f := range fleets {
		r.PerWorker = append(r.PerWorker, f.Len())
	}
	r.Losses = len(lost)
	r.Held = r.Losses == 0 && total() == cameras
	return r, nil
}

// balanced reports whether every fleet holds its fair share.
func balanced(fleets []*bus.MemCameras, cameras int) bool {
	share := (cameras + len(fleets) - 1) / len(fleets)
	for _, f := range fleets {
		if n := f.Len(); n > share || n < cameras/len(fleets) {
			return false
		}
	}
	return true
}
