package natsbus

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// clipDir is a worker's clip folder in these tests: <id>.mp4 files, opened as clip.Store.Open does
// (internal/clip links FFmpeg, which these tests do not need).
type clipDir struct{ dir string }

func (d clipDir) write(t *testing.T, id string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, id+".mp4"), data, 0o600))
}

func (d clipDir) open(id string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(filepath.Join(d.dir, id+".mp4"))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// clipIDs returns n event ids in start order.
func clipIDs(n int) []string {
	t0 := time.Now().Add(-time.Hour)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = event.NewEventID(t0.Add(time.Duration(i) * time.Second))
	}
	return ids
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	_, _ = r.Read(b)
	return b
}

func openClips(t *testing.T, c *Conn, cfg ClipsConfig) *Clips {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLog()
	}
	cl, err := OpenClips(ctxT(t, 20*time.Second), c, 1, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Close(ctx)
	})
	return cl
}

// A clip a worker's uploader put is served by another node's reader, whole and by Range (through
// http.ServeContent, as the API serves it), with its modification time; the reader's index knows
// it without asking NATS, and an unknown id is event.ErrNotFound.
func TestClipPutByWorkerServedByEventsNodeWithRange(t *testing.T) {
	s := startServer(t, ServerConfig{})
	reg := prometheus.NewPedanticRegistry()
	wm, err := NewClipMetrics(reg)
	require.NoError(t, err)
	worker := openClips(t, connect(t, ConnConfig{Server: s}, nil), ClipsConfig{MaxBytes: 64 << 20, TTL: time.Hour, Metrics: wm})
	events := openClips(t, connect(t, ConnConfig{Server: s}, nil), ClipsConfig{MaxBytes: 64 << 20, TTL: time.Hour})

	dir := clipDir{t.TempDir()}
	worker.StartUploads(dir.open)
	id := clipIDs(1)[0]
	clip := randomBytes(300_000) // three chunks
	dir.write(t, id, clip)
	require.False(t, events.Has(id))
	require.True(t, worker.Submit(id, "cam1"))
	require.Eventually(t, func() bool { return events.Has(id) }, 10*time.Second, 10*time.Millisecond,
		"the events node's index shows the clip")
	assert.Equal(t, 1.0, testutil.ToFloat64(wm.put))
	assert.Equal(t, float64(len(clip)), testutil.ToFloat64(wm.putBytes))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, at, err := events.OpenClip(r.Context(), r.URL.Path[1:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "clip.mp4", at, f)
	}))
	defer srv.Close()
	get := func(rng string) (int, http.Header, []byte) {
		req, err := http.NewRequest("GET", srv.URL+"/"+id, nil)
		require.NoError(t, err)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, res.Header, b
	}
	code, hdr, body := get("")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, clip, body)
	require.NotEmpty(t, hdr.Get("Last-Modified"))
	code, hdr, body = get("bytes=131000-131099") // across the first chunk's end
	require.Equal(t, http.StatusPartialContent, code)
	require.Equal(t, clip[131000:131100], body)
	require.Equal(t, fmt.Sprintf("bytes 131000-131099/%d", len(clip)), hdr.Get("Content-Range"))
	code, _, body = get("bytes=-10")
	require.Equal(t, http.StatusPartialContent, code)
	require.Equal(t, clip[len(clip)-10:], body)

	_, _, err = events.OpenClip(context.Background(), clipIDs(2)[1])
	require.ErrorIs(t, err, event.ErrNotFound)
	_, _, err = events.OpenClip(context.Background(), "not-an-id")
	require.ErrorIs(t, err, event.ErrNotFound)
	require.NoError(t, testutil.GatherAndCompare(reg, bytes.NewBufferString(`
# HELP mvwatch_bus_clip_puts_dropped_total Stored event clips that did not reach the clip bucket, by reason.
# TYPE mvwatch_bus_clip_puts_dropped_total counter
mvwatch_bus_clip_puts_dropped_total{reason="closed"} 0
mvwatch_bus_clip_puts_dropped_total{reason="failed"} 0
mvwatch_bus_clip_puts_dropped_total{reason="full"} 0
mvwatch_bus_clip_puts_dropped_total{reason="gone"} 0
mvwatch_bus_clip_puts_dropped_total{reason="refused"} 0
mvwatch_bus_clip_puts_dropped_total{reason="too_large"} 0
`), "mvwatch_bus_clip_puts_dropped_total"))

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems, "the checks of promtool check metrics")

	// A clip the worker's store deleted before its turn is counted, not retried.
	gone := clipIDs(3)[2]
	require.True(t, worker.Submit(gone, "cam1"))
	require.Eventually(t, func() bool { return testutil.ToFloat64(wm.dropped.WithLabelValues(ClipDropGone)) == 1 },
		10*time.Second, 10*time.Millisecond)
}

// A burst of clips larger than the bucket: the bucket's size never exceeds MaxBytes, the newest
// clips are put (the oldest deleted to make room), and Submit never blocks; a queue too small for
// the burst drops and counts.
func TestClipBucketBoundHoldsUnderBurst(t *testing.T) {
	s := startServer(t, ServerConfig{})
	const bound = 2 << 20
	wm, err := NewClipMetrics(nil)
	require.NoError(t, err)
	worker := openClips(t, connect(t, ConnConfig{Server: s}, nil), ClipsConfig{MaxBytes: bound, Metrics: wm, Queue: 64})
	events := openClips(t, connect(t, ConnConfig{Server: s}, nil), ClipsConfig{MaxBytes: bound})
	dir := clipDir{t.TempDir()}
	const n = 30
	ids := clipIDs(n)
	for _, id := range ids {
		dir.write(t, id, randomBytes(250_000)) // 30 x 250 kB = 7.5 MB into 2 MiB
	}
	worker.StartUploads(dir.open)
	start := time.Now()
	for _, id := range ids {
		require.True(t, worker.Submit(id, "cam1"))
	}
	require.Less(t, time.Since(start), 100*time.Millisecond, "Submit never waits for NATS")
	var maxSize uint64
	require.Eventually(t, func() bool {
		size, err := events.Size(context.Background())
		require.NoError(t, err)
		maxSize = max(maxSize, size)
		return testutil.ToFloat64(wm.put)+testutil.ToFloat64(wm.dropped.WithLabelValues(ClipDropRefused)) == n
	}, 30*time.Second, 5*time.Millisecond)
	size, err := events.Size(context.Background())
	require.NoError(t, err)
	t.Logf("burst of %d clips: put %v, refused %v, evicted %v, bucket %d bytes (max seen %d, bound %d)", n,
		testutil.ToFloat64(wm.put), testutil.ToFloat64(wm.dropped.WithLabelValues(ClipDropRefused)),
		testutil.ToFloat64(wm.evicted), size, maxSize, bound)
	require.LessOrEqual(t, maxSize, uint64(bound))
	require.Equal(t, float64(n), testutil.ToFloat64(wm.put), "every clip put, room made for each")
	require.Positive(t, testutil.ToFloat64(wm.evicted))
	require.Eventually(t, func() bool { return events.Has(ids[n-1]) && !events.Has(ids[0]) }, 10*time.Second, 10*time.Millisecond,
		"the newest clip is there, the oldest gone")
	f, _, err := events.OpenClip(context.Background(), ids[n-1])
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Equal(t, randomBytes(250_000), got)

	// A queue smaller than the burst drops the excess at once and counts it.
	sm, err := NewClipMetrics(nil)
	require.NoError(t, err)
	small := openClips(t, connect(t, ConnConfig{Server: s}, nil), ClipsConfig{MaxBytes: bound, Metrics: sm, Queue: 2})
	small.StartUploads(dir.open)
	accepted := 0
	for _, id := range ids {
		if small.Submit(id, "cam1") {
			accepted++
		}
	}
	require.Less(t, accepted, n)
	require.Equal(t, float64(n-accepted), testutil.ToFloat64(sm.dropped.WithLabelValues(ClipDropFull)))
}

// A clip bucket made by someone else with other settings is refused with a clear error (nothing
// changed); an mvwatch bucket with other limits gets the configured ones.
func TestClipBucketConflict(t *testing.T) {
	s := startServer(t, ServerConfig{})
	c := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 20*time.Second)
	_, err := c.JetStream().CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: ClipsBucket, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	_, err = OpenClips(ctx, c, 1, ClipsConfig{MaxBytes: 8 << 20, Logger: discardLog()})
	require.ErrorIs(t, err, ErrStreamConflict)
	require.ErrorContains(t, err, "object store bucket MVWATCH_CLIPS")
	require.ErrorContains(t, err, "not created by mvwatch")
	require.ErrorContains(t, err, "storage Memory (want File)")
	st, err := c.JetStream().Stream(ctx, clipsStream)
	require.NoError(t, err)
	require.Equal(t, jetstream.MemoryStorage, st.CachedInfo().Config.Storage, "left as it was")
	require.NoError(t, c.JetStream().DeleteObjectStore(ctx, ClipsBucket))

	// Replicas differ: a conflict even on mvwatch's own bucket.
	cl, err := OpenClips(ctx, c, 1, ClipsConfig{MaxBytes: 8 << 20, TTL: time.Hour, Logger: discardLog()})
	require.NoError(t, err)
	cl.Close(ctx)
	_, err = OpenClips(ctx, c, 3, ClipsConfig{MaxBytes: 8 << 20, TTL: time.Hour, Logger: discardLog()})
	require.ErrorIs(t, err, ErrStreamConflict)
	require.ErrorContains(t, err, "replicas 1 (want 3)")

	// Other limits on mvwatch's own bucket: updated.
	cl, err = OpenClips(ctx, c, 1, ClipsConfig{MaxBytes: 16 << 20, TTL: 2 * time.Hour, Logger: discardLog()})
	require.NoError(t, err)
	defer cl.Close(ctx)
	st, err = c.JetStream().Stream(ctx, clipsStream)
	require.NoError(t, err)
	assert.Equal(t, int64(16<<20), st.CachedInfo().Config.MaxBytes)
	assert.Equal(t, 2*time.Hour, st.CachedInfo().Config.MaxAge)
}

// A clip over the object bound is neither put nor read.
func TestClipTooLarge(t *testing.T) {
	s := startServer(t, ServerConfig{})
	wm, err := NewClipMetrics(nil)
	require.NoError(t, err)
	c := connect(t, ConnConfig{Server: s}, nil)
	worker := openClips(t, c, ClipsConfig{MaxClipBytes: 100_000, Metrics: wm})
	dir := clipDir{t.TempDir()}
	worker.StartUploads(dir.open)
	id := clipIDs(1)[0]
	dir.write(t, id, randomBytes(200_000))
	require.True(t, worker.Submit(id, "cam1"))
	require.Eventually(t, func() bool { return testutil.ToFloat64(wm.dropped.WithLabelValues(ClipDropTooLarge)) == 1 },
		10*time.Second, 10*time.Millisecond)

	// Put by another (with a larger bound): the small reader refuses to hold it.
	big := openClips(t, c, ClipsConfig{MaxClipBytes: 1 << 20})
	big.StartUploads(dir.open)
	require.True(t, big.Submit(id, "cam1"))
	require.Eventually(t, func() bool { return worker.Has(id) }, 10*time.Second, 10*time.Millisecond)
	_, _, err = worker.OpenClip(context.Background(), id)
	require.ErrorIs(t, err, ErrClipTooLarge)
}

// A worker whose NATS server goes away keeps its clips queued and retries (backoff) until the
// server is back; the clip then reaches the bucket and no drop is counted.
func TestClipPutSurvivesOutage(t *testing.T) {
	addr := freeAddr(t)
	cfg := ServerConfig{DataDir: t.TempDir(), Listen: addr}
	s := startServer(t, cfg)
	wm, err := NewClipMetrics(nil)
	require.NoError(t, err)
	worker := openClips(t, connect(t, ConnConfig{URL: "nats://" + addr}, nil), ClipsConfig{MaxBytes: 16 << 20, Metrics: wm})
	dir := clipDir{t.TempDir()}
	worker.StartUploads(dir.open)
	id := clipIDs(1)[0]
	dir.write(t, id, randomBytes(200_000))
	s.Shutdown()
	require.True(t, worker.Submit(id, "cam1"))
	require.Eventually(t, func() bool { return testutil.ToFloat64(wm.retries) >= 2 }, 20*time.Second, 10*time.Millisecond,
		"puts retried while NATS is away")
	startServer(t, cfg)
	require.Eventually(t, func() bool { return testutil.ToFloat64(wm.put) == 1 }, 60*time.Second, 20*time.Millisecond,
		"the clip put once NATS is back")
	for _, r := range []string{ClipDropFull, ClipDropRefused, ClipDropFailed, ClipDropGone} {
		require.Zero(t, testutil.ToFloat64(wm.dropped.WithLabelValues(r)), r)
	}
	events := openClips(t, connect(t, ConnConfig{URL: "nats://" + addr}, nil), ClipsConfig{MaxBytes: 16 << 20})
	require.True(t, events.Has(id))
}
