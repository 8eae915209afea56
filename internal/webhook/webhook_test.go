package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// hookServer is a real HTTP server that fails the first failN requests with status failCode.
type hookServer struct {
	*httptest.Server
	failN      int32
	failCode   int
	calls      atomic.Int32
	mu         sync.Mutex
	got        []event.Event
	headers    []http.Header
	bodies     [][]byte
	block      chan struct{} // when set, each request waits on it
	retryAfter string
	failedAt   []time.Time
	entered    chan struct{}
}

func newHookServer(t *testing.T, failN int32, failCode int) *hookServer {
	h := &hookServer{failN: failN, failCode: failCode, entered: make(chan struct{}, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.calls.Add(1)
		h.entered <- struct{}{}
		if h.block != nil {
			<-h.block
		}
		if n <= h.failN {
			if h.retryAfter != "" {
				w.Header().Set("Retry-After", h.retryAfter)
			}
			h.mu.Lock()
			h.failedAt = append(h.failedAt, time.Now())
			h.mu.Unlock()
			http.Error(w, "not now", h.failCode)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev event.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, ev)
		h.headers = append(h.headers, r.Header.Clone())
		h.bodies = append(h.bodies, body)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) events() []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]event.Event(nil), h.got...)
}

func intp(n int) *int { return &n }

func TestWebhookRetriesUntilDelivered(t *testing.T) {
	srv := newHookServer(t, 3, http.StatusServiceUnavailable)
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	sink := newStarted([]config.Webhook{{Name: "ops", URL: srv.URL + "/hook?k=secret", Secret: "shh", MaxRetries: intp(5)}},
		Options{InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Metrics: m})

	ev := eventtest.New("door", "person", 0.9, eventtest.T0)
	ev.AttachKeyframe(eventtest.JPEG)
	require.NoError(t, sink.Publish(context.Background(), ev))
	require.Eventually(t, func() bool { return len(srv.events()) == 1 }, 10*time.Second, 5*time.Millisecond)
	sink.Close()

	require.EqualValues(t, 4, srv.calls.Load())
	got := srv.events()[0]
	require.Equal(t, ev.ID, got.ID)
	require.Equal(t, "person", got.Label)
	require.Equal(t, event.KeyframePath(ev.ID), got.KeyframeRef)
	srv.mu.Lock()
	h, body := srv.headers[0], srv.bodies[0]
	srv.mu.Unlock()
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, ev.ID, h.Get("X-Mvwatch-Event-Id"))
	require.Equal(t, "sha256="+Sign("shh", body), h.Get("X-Mvwatch-Signature"))
	require.NotContains(t, string(body), "keyframe\":") // the JPEG itself is not sent

	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP mvwatch_webhook_deliveries_total Webhook deliveries by final result.
# TYPE mvwatch_webhook_deliveries_total counter
mvwatch_webhook_deliveries_total{result="delivered",webhook="ops"} 1
mvwatch_webhook_deliveries_total{result="failed",webhook="ops"} 0
# HELP mvwatch_webhook_retries_total Webhook POSTs retried.
# TYPE mvwatch_webhook_retries_total counter
mvwatch_webhook_retries_total{webhook="ops"} 3
`), "mvwatch_webhook_deliveries_total", "mvwatch_webhook_retries_total"))
}

func TestWebhookGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      int
		wantCalls int32
	}{
		{"client error is not retried", http.StatusBadRequest, 1},
		{"server error retried MaxRetries times", http.StatusInternalServerError, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t, 1000, tc.code)
			reg := prometheus.NewPedanticRegistry()
			m, err := NewMetrics(reg)
			require.NoError(t, err)
			sink := newStarted([]config.Webhook{{Name: "a", URL: srv.URL, MaxRetries: intp(2)}},
				Options{InitialBackoff: time.Millisecond, Metrics: m})
			require.NoError(t, sink.Publish(context.Background(), eventtest.New("door", "car", 0.7, eventtest.T0)))
			require.Eventually(t, func() bool {
				return testutil.ToFloat64(m.Deliveries.WithLabelValues("a", "failed")) == 1
			}, 10*time.Second, 5*time.Millisecond)
			sink.Close()
			require.Equal(t, tc.wantCalls, srv.calls.Load())
		})
	}
}

func TestWebhookFiltersAndFansOut(t *testing.T) {
	people := newHookServer(t, 0, 0)
	all := newHookServer(t, 0, 0)
	sink := newStarted([]config.Webhook{
		{Name: "people", URL: people.URL, Labels: []string{"person"}, MinScore: 0.8},
		{Name: "all", URL: all.URL},
	}, Options{})
	ctx := context.Background()
	require.NoError(t, sink.Publish(ctx, eventtest.New("door", "person", 0.9, eventtest.T0)))
	require.NoError(t, sink.Publish(ctx, eventtest.New("door", "person", 0.5, eventtest.T0)))
	require.NoError(t, sink.Publish(ctx, eventtest.New("door", "car", 0.95, eventtest.T0)))
	sink.Close() // drains
	require.Len(t, people.events(), 1)
	require.Len(t, all.events(), 3)
	require.ErrorIs(t, sink.Publish(ctx, eventtest.New("door", "car", 0.95, eventtest.T0)), ErrSinkClosed)
}

func TestWebhookBoundedQueueDropsAndCounts(t *testing.T) {
	srv := newHookServer(t, 0, 0)
	srv.block = make(chan struct{})
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	sink := newStarted([]config.Webhook{{Name: "slow", URL: srv.URL}}, Options{QueueSize: 2, Metrics: m})
	ctx := context.Background()
	require.NoError(t, sink.Publish(ctx, eventtest.New("door", "person", 0.9, eventtest.T0)))
	<-srv.entered // the first event is in flight, the queue is empty
	for i := 0; i < 5; i++ {
		start := time.Now()
		require.NoError(t, sink.Publish(ctx, eventtest.New("door", "person", 0.9, eventtest.T0.Add(time.Duration(i+1)*time.Second))))
		require.Less(t, time.Since(start), time.Second, "Publish must not block")
	}
	require.Equal(t, 3.0, testutil.ToFloat64(m.Drops.WithLabelValues("slow")))
	close(srv.block)
	sink.Close()
	require.Len(t, srv.events(), 3)
	require.Equal(t, 3.0, testutil.ToFloat64(m.Deliveries.WithLabelValues("slow", "delivered")))
}

func TestWebhookCloseGivesUpAfterDrainTimeout(t *testing.T) {
	srv := newHookServer(t, 1000, http.StatusServiceUnavailable)
	sink := newStarted([]config.Webhook{{URL: srv.URL, MaxRetries: intp(100)}},
		Options{InitialBackoff: time.Hour, DrainTimeout: 50 * time.Millisecond})
	require.NoError(t, sink.Publish(context.Background(), eventtest.New("door", "person", 0.9, eventtest.T0)))
	<-srv.entered
	start := time.Now()
	sink.Close()
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	srv := newHookServer(t, 1, http.StatusTooManyRequests)
	srv.retryAfter = "1" // one second, capped at MaxBackoff (300ms)
	sink := newStarted([]config.Webhook{{URL: srv.URL}},
		Options{InitialBackoff: time.Millisecond, MaxBackoff: 300 * time.Millisecond})
	require.NoError(t, sink.Publish(context.Background(), eventtest.New("door", "person", 0.9, eventtest.T0)))
	require.Eventually(t, func() bool { return len(srv.events()) == 1 }, 10*time.Second, 5*time.Millisecond)
	sink.Close()
	srv.mu.Lock()
	first := srv.failedAt[0]
	srv.mu.Unlock()
	require.GreaterOrEqual(t, time.Since(first), 300*time.Millisecond)
}

// newStarted builds and starts a sink.
func newStarted(hooks []config.Webhook, opts Options) *Sink {
	s := New(hooks, opts)
	s.Start()
	return s
}

// TestWebhookNewStartsNothing: New starts no goroutine (goleak checks the run), and Close without
// Start returns at once and refuses later events.
func TestWebhookNewStartsNothing(t *testing.T) {
	sink := New([]config.Webhook{{Name: "a", URL: "http://127.0.0.1:1/hook"}}, Options{})
	sink.Close()
	sink.Close()
	require.ErrorIs(t, sink.Publish(context.Background(), eventtest.New("door", "car", 0.95, eventtest.T0)), ErrSinkClosed)
}
