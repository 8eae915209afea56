package clip

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testStream returns the test camera's H.264 (640x360, 15 fps, 2 s GOPs, B-frames) as an endless
// stream of access units.
func testStream(t *testing.T) *ingest.AnnexBSource {
	t.Helper()
	s, err := ingest.OpenAnnexB(filepath.Join("..", "testcam", "clip", "testcam.264"), ingest.AnnexBOptions{Loop: true, FrameRate: 15})
	require.NoError(t, err)
	return s
}

func newService(t *testing.T, cfg config.Clips) (*Service, *Metrics) {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	s, err := New(Options{Config: cfg.WithDefaults(), Dir: filepath.Join(t.TempDir(), "clips"), Metrics: m,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, m
}

// probeResult is what ffprobe reports of a clip.
type probeResult struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
	} `json:"streams"`
	Packets []struct {
		PTSTime string `json:"pts_time"`
	} `json:"packets"`
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) probeResult {
	t.Helper()
	out, err := exec.Command("/usr/bin/ffprobe", "-v", "error", "-show_streams", "-show_packets", "-show_format", "-of", "json", path).Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("ffprobe: %v: %s", err, ee.Stderr)
	}
	require.NoError(t, err)
	var p probeResult
	require.NoError(t, json.Unmarshal(out, &p))
	return p
}

// firstPacket is the smallest packet time of a probed clip, in seconds.
func (p probeResult) firstPacket(t *testing.T) float64 {
	first := 1e18
	for _, pk := range p.Packets {
		v, err := strconv.ParseFloat(pk.PTSTime, 64)
		require.NoError(t, err)
		first = min(first, v)
	}
	return first
}

// TestRecorderClip: an event opened late (as inference opens it) gets a clip from the keyframe at or
// before its start minus the pre-roll to its end plus the post-roll, which ffprobe reads as h264 and
// whose first picture, mapped to wall-clock time by its tag, is at or before the event's start.
func TestRecorderClip(t *testing.T) {
	svc, m := newService(t, config.Clips{PreRoll: config.Duration(3 * time.Second), PostRoll: config.Duration(2 * time.Second)})
	rec := svc.Recorder("front")
	src := testStream(t)
	wall0 := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	var id string
	var start time.Time
	var maxPTS time.Duration
	for i := 0; i < 15*20; i++ {
		au, err := src.Next()
		require.NoError(t, err)
		rec.Push(au)
		maxPTS = max(maxPTS, au.PTS)
		switch i {
		case 15 * 8: // the event started at 6.5 s of the stream and opens 1.5 s later
			startPTS := 6500 * time.Millisecond
			start = wall0.Add(startPTS)
			id = event.NewEventID(start)
			rec.Begin(id, startPTS, start)
		case 15 * 12: // it ended at 10 s and closes now, before its post-roll passed
			rec.End(id, 10*time.Second)
		}
	}
	svc.Flush()
	require.Equal(t, 1.0, testutil.ToFloat64(m.Written))
	f, fi, err := svc.Store().Open(id)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Positive(t, fi.Size())

	p := ffprobe(t, f.Name())
	require.Equal(t, "h264", p.Streams[0].CodecName)
	dur, err := strconv.ParseFloat(p.Format.Duration, 64)
	require.NoError(t, err)
	// From the IDR at or before 3.5 s (2 s GOPs: 2 s) to 12 s: about 10 s.
	require.InDelta(t, 10.0, dur, 0.3)
	first, err := time.Parse(time.RFC3339Nano, p.Format.Tags["comment"])
	require.NoError(t, err)
	clipStart := first.Add(time.Duration(p.firstPacket(t) * float64(time.Second)))
	require.False(t, clipStart.After(start), "the clip starts at %v, after the event's start %v", clipStart, start)
	require.WithinDuration(t, wall0.Add(2*time.Second), clipStart, time.Millisecond, "the clip starts at the keyframe before the pre-roll")
	require.Equal(t, id, p.Format.Tags["title"])
	require.True(t, svc.Store().Has(id))
}

// TestRecorderDiscardAndWait: a discarded event leaves no clip; an event opened before any keyframe
// starts at the next one; Close finishes the open recordings.
func TestRecorderDiscardAndWait(t *testing.T) {
	svc, m := newService(t, config.Clips{})
	rec := svc.Recorder("front")
	src := testStream(t)
	// Skip to mid-GOP: the buffer holds nothing until the IDR at 2 s.
	for i := 0; i < 5; i++ {
		_, err := src.Next()
		require.NoError(t, err)
	}
	now := time.Now()
	gone, kept := event.NewEventID(now), event.NewEventID(now.Add(time.Millisecond))
	rec.Begin(gone, 300*time.Millisecond, now)
	rec.Begin(kept, 300*time.Millisecond, now)
	for i := 0; i < 60; i++ {
		au, err := src.Next()
		require.NoError(t, err)
		rec.Push(au)
	}
	rec.Discard(gone)
	rec.Close()
	svc.Flush()
	require.False(t, svc.Store().Has(gone))
	require.True(t, svc.Store().Has(kept))
	require.Equal(t, 1.0, testutil.ToFloat64(m.Written))
	f, _, err := svc.Store().Open(kept)
	require.NoError(t, err)
	defer f.Close()
	p := ffprobe(t, f.Name())
	require.Len(t, p.Packets, 60-25, "from the IDR at frame 30 of the stream on")
	_, _, err = svc.Store().Open(gone)
	require.ErrorIs(t, err, event.ErrNotFound)
}

// TestStalledStream: a closed event whose stream stops before the post-roll came is written with what
// it has, a post-roll and a second later.
func TestStalledStream(t *testing.T) {
	svc, _ := newService(t, config.Clips{PostRoll: config.Duration(200 * time.Millisecond)})
	rec := svc.Recorder("front")
	defer rec.Close()
	src := testStream(t)
	id := event.NewEventID(time.Now())
	for i := 0; i < 45; i++ {
		au, err := src.Next()
		require.NoError(t, err)
		rec.Push(au)
		if i == 35 {
			rec.Begin(id, au.PTS, time.Now())
		}
	}
	rec.End(id, 3*time.Second) // the post-roll would end at 3.2 s; the stream stopped at 3 s
	require.Eventually(t, func() bool { return svc.Store().Has(id) }, 5*time.Second, 10*time.Millisecond)
}

// TestBurstStaysWithinBound: a burst of events on several cameras at once never makes the clip
// folder hold more than clips.max_bytes of clips (the file being written aside), deletes the oldest
// first, keeps the newest, and counts what it deleted.
func TestBurstStaysWithinBound(t *testing.T) {
	const bound = 1 << 20
	maxBytes := int64(bound)
	svc, m := newService(t, config.Clips{MaxBytes: &maxBytes, PostRoll: config.Duration(500 * time.Millisecond)})
	dir := svc.Store().Dir()
	var over atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // watch the folder throughout the burst
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			des, _ := os.ReadDir(dir)
			var n int64
			for _, de := range des {
				if fi, err := de.Info(); err == nil && !strings.HasPrefix(de.Name(), ".tmp-") {
					n += fi.Size()
				}
			}
			if n > bound {
				over.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var ids []string
	var wg sync.WaitGroup // the cameras
	base := time.Now().Add(-time.Hour)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		cam := "cam" + strconv.Itoa(c)
		rec := svc.Recorder(cam)
		camIDs := make([]string, 0, 25)
		for e := 0; e < 25; e++ {
			camIDs = append(camIDs, event.NewEventID(base.Add(time.Duration(c*1000+e)*time.Second)))
		}
		ids = append(ids, camIDs...)
		go func() {
			defer wg.Done()
			src := testStream(t)
			e := 0
			for i := 0; e < len(camIDs); i++ {
				au, err := src.Next()
				if err != nil {
					return
				}
				rec.Push(au)
				time.Sleep(2 * time.Millisecond) // a burst, but at a pace a writer can follow
				if i%20 == 10 {                  // an event every 1.3 s, each 0.5 s long
					rec.Begin(camIDs[e], au.PTS-200*time.Millisecond, time.Now())
				}
				if i%20 == 17 {
					rec.End(camIDs[e], au.PTS)
					e++
				}
			}
			rec.Close()
		}()
	}
	// Wait for the cameras, then the writer, then stop watching.
	wg.Wait()
	svc.Flush()
	close(stop)
	<-watched
	written := testutil.ToFloat64(m.Written)
	require.Positive(t, written)
	require.Zero(t, over.Load(), "the clip folder held %d bytes, more than its bound %d", over.Load(), bound)
	disk, err := svc.Store().DiskBytes()
	require.NoError(t, err)
	require.LessOrEqual(t, disk, int64(bound))
	require.Equal(t, disk, svc.Store().Bytes())
	require.Equal(t, float64(disk), testutil.ToFloat64(m.StoredBytes))
	deleted := testutil.ToFloat64(m.Deleted.WithLabelValues("size"))
	require.Positive(t, deleted, "the burst needed room")
	require.Equal(t, written-deleted, float64(svc.Store().Len()))
	require.True(t, svc.Store().Has(ids[len(ids)-1]), "the newest clip stays")
	require.False(t, svc.Store().Has(ids[0]), "the oldest went first")
	t.Logf("burst: %d events, %.0f written, %.0f deleted for room, %.0f dropped (queue full), %d clips = %d bytes on disk (bound %d)",
		len(ids), written, deleted, testutil.ToFloat64(m.Failed.WithLabelValues(FailQueueFull)), svc.Store().Len(), disk, bound)
}

// TestStoreRetention: clips of events older than MaxAge go at Prune, and at reopening; temporary
// files a crash left are removed; a clip larger than the whole bound is refused.
func TestStoreRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	m, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	s, err := OpenStore(StoreOptions{Dir: dir, MaxAge: time.Hour, MaxBytes: 100, Metrics: m, Now: func() time.Time { return now }})
	require.NoError(t, err)
	put := func(id string, n int) error {
		_, err := s.Put(id, func(p string) error { return os.WriteFile(p, make([]byte, n), 0o600) })
		return err
	}
	old, fresh := event.NewEventID(now.Add(-2*time.Hour)), event.NewEventID(now.Add(-time.Minute))
	require.NoError(t, put(old, 10))
	require.NoError(t, put(fresh, 10))
	require.ErrorIs(t, put(event.NewEventID(now), 101), ErrTooLarge)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".tmp-crashed.mp4"), []byte("x"), 0o600))
	n, err := s.Prune()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.False(t, s.Has(old))
	require.True(t, s.Has(fresh))
	require.Equal(t, 1.0, testutil.ToFloat64(m.Deleted.WithLabelValues("age")))

	s2, err := OpenStore(StoreOptions{Dir: dir, Now: func() time.Time { return now }})
	require.NoError(t, err)
	require.Equal(t, 1, s2.Len())
	require.Equal(t, int64(10), s2.Bytes())
	_, err = os.Stat(filepath.Join(dir, ".tmp-crashed.mp4"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestMetricsStartAtZero: every failure reason and deletion reason exists from the start.
func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	require.NoError(t, testutil.CollectAndCompare(m.Failed, strings.NewReader(`# HELP mvwatch_clips_failed_total Event recordings that became no clip, by reason.
# TYPE mvwatch_clips_failed_total counter
mvwatch_clips_failed_total{reason="mux"} 0
mvwatch_clips_failed_total{reason="no_keyframe"} 0
mvwatch_clips_failed_total{reason="queue_full"} 0
mvwatch_clips_failed_total{reason="store"} 0
mvwatch_clips_failed_total{reason="too_large"} 0
mvwatch_clips_failed_total{reason="too_many"} 0
`)))
	require.Equal(t, 2, testutil.CollectAndCount(m.Deleted))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	_, err = NewMetrics(reg)
	require.Error(t, err, "registered twice")
}

// BenchmarkPush is the per-access-unit cost of the pre-roll buffer on the delivery goroutine (no
// event open: a camera's usual state).
func BenchmarkPush(b *testing.B) {
	m, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(b, err)
	svc, err := New(Options{Config: config.Clips{}, Dir: b.TempDir(), Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	src, err := ingest.OpenAnnexB(filepath.Join("..", "testcam", "clip", "testcam.264"), ingest.AnnexBOptions{Loop: true, FrameRate: 15})
	require.NoError(b, err)
	rec := svc.Recorder("front")
	b.ReportAllocs()
	for b.Loop() {
		au, _ := src.Next()
		rec.Push(au)
	}
}

// BenchmarkWriteClip is the writer's cost for one 10 s clip of the test camera (640x360, 15 fps):
// remux to MP4, fsync, rename.
func BenchmarkWriteClip(b *testing.B) {
	m, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(b, err)
	svc, err := New(Options{Config: config.Clips{}, Dir: b.TempDir(), Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	require.NoError(b, svc.Start())
	defer svc.Close()
	src, err := ingest.OpenAnnexB(filepath.Join("..", "testcam", "clip", "testcam.264"), ingest.AnnexBOptions{Loop: true, FrameRate: 15})
	require.NoError(b, err)
	var aus []media.AccessUnit
	for len(aus) < 150 {
		au, _ := src.Next()
		aus = append(aus, au)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		svc.write(&job{id: event.NewEventID(time.Unix(int64(i), 0)), camera: "front", aus: aus, first: time.Now()})
	}
	b.StopTimer()
	b.ReportMetric(float64(svc.Store().Bytes())/float64(svc.Store().Len()), "bytes/clip")
}
