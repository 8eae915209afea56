// Package webhook delivers stored events to HTTP endpoints: one bounded queue (internal/queue) and one
// goroutine per configured webhook, retries with capped exponential backoff and jitter
// (internal/backoff), HMAC signatures, and URLs redacted (internal/redact) wherever they are logged.
// It owns mvwatch_webhook_deliveries_total, mvwatch_webhook_retries_total and
// mvwatch_webhook_dropped_total.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/internal/backoff"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/redact"

	"github.com/mvwatch/mvwatch/internal/event"
)

// ErrSinkClosed is returned by Publish after Close.
var ErrSinkClosed = errors.New("sink closed")

// Options configures a Sink.
type Options struct {
	// QueueSize bounds each webhook's queue; a full queue drops the new event and counts it.
	// It defaults to 256.
	QueueSize int
	// InitialBackoff is the wait before the first retry; it doubles up to MaxBackoff, each wait
	// drawn with equal jitter from its upper half (backoff.EqualJitter). It defaults to 500ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between retries. It defaults to 30s.
	MaxBackoff time.Duration
	// DrainTimeout is how long Close keeps delivering queued events. It defaults to 5s.
	DrainTimeout time.Duration
	// Client sends the POSTs. It defaults to a client of its own.
	Client *http.Client
	// Metrics, when set, receives delivery, retry and drop counts (NewMetrics).
	Metrics *Metrics
	// Logger logs failed deliveries. It defaults to slog.Default().
	Logger *slog.Logger
	// PublicURL, when set (config public_url), makes the event's keyframe_ref and thumbnail_ref
	// absolute URLs under it, so a receiver can fetch them. It defaults to empty: API paths.
	PublicURL string
	// Now is the clock of webhook-timestamp. It defaults to time.Now.
	Now func() time.Time
}

// Sink POSTs each event as JSON to the configured webhooks. Each webhook has its
// own bounded queue and goroutine, so a slow endpoint delays only itself; failed POSTs (network
// errors, 408, 429 and 5xx) are retried with capped exponential backoff, honouring Retry-After
// (seconds, capped at MaxBackoff). Publish never blocks.
type Sink struct {
	targets   []*target
	opts      Options
	ownClient bool
	closed    atomic.Bool

	stop      context.CancelFunc // ends the wait for new events: workers drain and exit
	abort     context.CancelFunc // cancels in-flight POSTs and backoff waits
	wg        sync.WaitGroup
	startOnce sync.Once
	closeMu   sync.Once
}

type target struct {
	cfg   config.Webhook
	queue *queue.Queue[event.Event]
	sink  *Sink
}

// New builds a sink for the webhooks (validated configs); Start starts its delivery goroutines and
// Close stops them. Publish before Start queues.
func New(hooks []config.Webhook, opts Options) *Sink {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Sink{opts: opts}
	if opts.Client == nil {
		w.opts.Client = &http.Client{}
		w.ownClient = true
	}
	for i, cfg := range hooks {
		if cfg.Name == "" {
			cfg.Name = fmt.Sprintf("webhook%d", i)
		}
		if cfg.Timeout <= 0 {
			cfg.Timeout = config.Duration(5 * time.Second)
		}
		qo := queue.Options{}
		if opts.Metrics != nil {
			qo.Drops = opts.Metrics.Drops.WithLabelValues(cfg.Name)
			opts.Metrics.Retries.WithLabelValues(cfg.Name)
			for _, r := range []string{"delivered", "failed"} {
				opts.Metrics.Deliveries.WithLabelValues(cfg.Name, r)
			}
		}
		t := &target{cfg: cfg, queue: queue.New[event.Event](opts.QueueSize, qo), sink: w}
		w.targets = append(w.targets, t)
	}
	return w
}

// Start starts one delivery goroutine per webhook. Call it once; Close stops them.
func (w *Sink) Start() {
	w.startOnce.Do(func() {
		stopCtx, stop := context.WithCancel(context.Background())
		runCtx, abort := context.WithCancel(context.Background())
		w.stop, w.abort = stop, abort
		for _, t := range w.targets {
			w.wg.Add(1)
			go t.run(stopCtx, runCtx)
		}
	})
}

// Publish queues ev for every webhook whose filters match. A full queue drops the event (counted in
// mvwatch_webhook_dropped_total); that is not an error.
func (w *Sink) Publish(_ context.Context, ev event.Event) error {
	if w.closed.Load() {
		return ErrSinkClosed
	}
	ev.Keyframe = nil
	for _, t := range w.targets {
		if t.matches(ev) {
			t.queue.Push(ev)
		}
	}
	return nil
}

// Close stops accepting events, keeps delivering the queued ones for up to DrainTimeout, then cancels
// what is left and waits for the delivery goroutines.
func (w *Sink) Close() {
	w.closeMu.Do(func() {
		w.closed.Store(true)
		w.startOnce.Do(func() {}) // never started: nothing to stop
		if w.stop == nil {
			return
		}
		w.stop()
		done := make(chan struct{})
		go func() { w.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(w.opts.DrainTimeout):
			w.abort()
			<-done
		}
		w.abort()
		if w.ownClient {
			w.opts.Client.CloseIdleConnections()
		}
	})
}

func (t *target) matches(ev event.Event) bool {
	if ev.NoAlert || ev.Score < t.cfg.MinScore {
		return false
	}
	return len(t.cfg.Labels) == 0 || slices.Contains(t.cfg.Labels, ev.Label)
}

func (t *target) run(stopCtx, runCtx context.Context) {
	defer t.sink.wg.Done()
	for {
		ev, err := t.queue.Pop(stopCtx)
		if err != nil {
			// Closing: deliver what is queued until the drain deadline aborts runCtx.
			for ev, ok := t.queue.TryPop(); ok && runCtx.Err() == nil; ev, ok = t.queue.TryPop() {
				t.deliver(runCtx, ev)
			}
			return
		}
		t.deliver(runCtx, ev)
	}
}

// deliver POSTs ev, retrying transient failures up to MaxRetries times.
func (t *target) deliver(ctx context.Context, ev event.Event) {
	if base := strings.TrimSuffix(t.sink.opts.PublicURL, "/"); base != "" {
		if ev.KeyframeRef != "" {
			ev.KeyframeRef = base + ev.KeyframeRef
		}
		if ev.ThumbnailRef != "" {
			ev.ThumbnailRef = base + ev.ThumbnailRef
		}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.sink.opts.Logger.Error("webhook: encode event", "webhook", t.cfg.Name, "err", err)
		return
	}
	retries := 5
	if t.cfg.MaxRetries != nil {
		retries = *t.cfg.MaxRetries
	}
	m := t.sink.opts.Metrics
	pause := backoff.Backoff{Initial: t.sink.opts.InitialBackoff, Max: t.sink.opts.MaxBackoff, Jitter: backoff.EqualJitter}
	for attempt := 0; ; attempt++ {
		retry, after, err := t.post(ctx, ev.ID, body)
		if err == nil {
			if m != nil {
				m.Deliveries.WithLabelValues(t.cfg.Name, "delivered").Inc()
			}
			return
		}
		if !retry || attempt >= retries || ctx.Err() != nil {
			if m != nil {
				m.Deliveries.WithLabelValues(t.cfg.Name, "failed").Inc()
			}
			t.sink.opts.Logger.Warn("webhook delivery failed", "webhook", t.cfg.Name, "url", redact.URL(t.cfg.URL),
				"event", ev.ID, "attempts", attempt+1, "err", err)
			return
		}
		if m != nil {
			m.Retries.WithLabelValues(t.cfg.Name).Inc()
		}
		timer := time.NewTimer(max(pause.Next(), after))
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
	}
}

// post sends one POST; retry reports whether a failure is worth retrying, after how long the server
// asked to wait (Retry-After in seconds, capped at MaxBackoff).
func (t *target) post(ctx context.Context, id string, body []byte) (retry bool, after time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("bad webhook URL") // the URL may hold secrets: do not echo it
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mvwatch")
	req.Header.Set("X-Mvwatch-Event-Id", id)
	// Standard Webhooks (https://www.standardwebhooks.com): the same id on every retry, so receivers
	// can drop duplicates; a timestamp per attempt, signed with the body, so a captured request cannot
	// be replayed later.
	req.Header.Set("webhook-id", id)
	ts := t.sink.opts.Now()
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	if t.cfg.Secret != "" {
		req.Header.Set("webhook-signature", SignStandard(t.cfg.Secret, id, ts, body))
		req.Header.Set("X-Mvwatch-Signature", "sha256="+Sign(t.cfg.Secret, body)) // deprecated: no timestamp
	}
	resp, err := t.sink.opts.Client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // drop the *url.Error wrapper, which quotes the URL
		}
		return true, 0, fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		after = min(time.Duration(secs)*time.Second, t.sink.opts.MaxBackoff)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, 0, nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return true, after, fmt.Errorf("status %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("status %s (not retried)", resp.Status)
	}
}

// SignStandard returns the Standard Webhooks signature header value, "v1," and the base64
// HMAC-SHA256 of "id.timestamp.body". A secret of the form "whsec_<base64>" signs with the decoded
// bytes, as the Standard Webhooks libraries do; any other secret signs with its own bytes.
func SignStandard(secret, id string, ts time.Time, body []byte) string {
	key := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(b64); err == nil {
			key = k
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign returns the hex HMAC-SHA256 of body under secret, as sent in X-Mvwatch-Signature (deprecated:
// it carries no timestamp; verify webhook-signature instead).
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
