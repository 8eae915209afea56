package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/backoff"
	"github.com/mvwatch/mvwatch/internal/lifecycle"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// Errors that end a Client for good (StateFailed): retrying would not help.
var (
	// ErrUnsupportedCodec: the stream offers no H.264 or H.265 video.
	ErrUnsupportedCodec = errors.New("no H.264 or H.265 video in the stream")
	// ErrUnauthorized: the server refused the credentials (or their absence).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBadURL: the URL is not an rtsp:// or rtsps:// URL.
	ErrBadURL = errors.New("bad RTSP URL")
	// ErrBadConfig: a ClientConfig field is missing or invalid.
	ErrBadConfig = errors.New("bad client configuration")
)

// ErrRejected ends a Client for good (StateFailed) when ClientConfig.CheckParams refuses the
// parameter sets of the session's SDP: the reason is CheckParams' error.
var ErrRejected = errors.New("stream rejected")

// ErrStalled is the reason for a reconnect when no RTP packet arrived within ClientConfig.StallTimeout.
var ErrStalled = errors.New("stream stalled")

// Transport protocols a Client can use.
const (
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
	TransportAuto = "auto"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL of the stream: rtsp:// or rtsps://, with optional user:password@ credentials or query
	// tokens, which are never logged or shown (see internal/redact). Required.
	URL string
	// Camera names the camera in metrics (the "camera" label) and logs. It defaults to "camera".
	Camera string
	// Transport is "tcp", "udp" or "auto" (UDP first, TCP when no UDP packet arrives).
	// It defaults to "tcp".
	Transport string
	// OnAccessUnit receives the access units in order, from one goroutine; it must not keep the
	// media.AccessUnit's NAL units past the call unless it does not modify them. Required.
	OnAccessUnit func(media.AccessUnit)
	// OnStateChange, when set, is called with a snapshot at every state change, from the goroutine that
	// runs the client; it must return quickly. It defaults to nil.
	OnStateChange func(ClientState)
	// QueueSize is the number of access units buffered between the network and OnAccessUnit; when it is
	// full, new units are dropped and counted, up to the next random-access unit, so that the consumer
	// never gets a picture whose references were dropped. It defaults to 256.
	QueueSize int
	// MaxQueueBytes bounds the bytes of the access units in the queue as well: a unit that would
	// take it over is dropped like one that finds the queue full. It defaults to 32 MiB.
	MaxQueueBytes int
	// MaxAccessUnitBytes bounds one access unit: once the packets of a unit (an endless NAL unit,
	// a huge picture) pass it, what was assembled is thrown away, the unit is dropped and counted
	// (reason "oversized") and assembly starts again at the next unit. It defaults to 4 MiB
	// (gortsplib's own cap is 8 MiB).
	MaxAccessUnitBytes int
	// CheckParams, when set, sees the parameter sets (VPS, SPS, PPS) of the session's SDP
	// (sprop-parameter-sets) before SETUP. An error fails the client for good (ErrRejected, the
	// error as the reason): the decode limits check the SPS here, before anything is played.
	CheckParams func(codec media.Codec, params [][]byte) error
	// InitialBackoff is the pause before the first reconnect; it doubles at each failed attempt up to
	// MaxBackoff, and resets once a session delivers. They default to 500 milliseconds and 4 seconds,
	// so that a camera that comes back is read again within about 5 seconds.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Jitter is the random fraction of each pause (see backoff.Backoff): a pause is drawn from
	// [(1-Jitter)*d, d], never above MaxBackoff. It defaults to 0.5 (equal jitter); a negative value
	// disables it.
	Jitter float64
	// StallTimeout ends a session in which no RTP packet arrived for this long. It defaults to 5 seconds.
	StallTimeout time.Duration
	// Timeout bounds connecting and each RTSP request. It defaults to 10 seconds.
	Timeout time.Duration
	// Registerer receives the client's metrics, labelled by Camera. It defaults to nil: no metrics.
	Registerer prometheus.Registerer
	// Log receives the client's log lines, with credentials redacted. It defaults to slog.Default().
	Log *slog.Logger
	// DialContext opens the TCP connection. It defaults to net.Dialer.DialContext.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

// Client pulls one H.264 or H.265 stream from an RTSP camera and delivers its access units. It keeps
// going when the camera goes away: it reconnects with capped exponential backoff and jitter, and
// restarts a session that stalls. Use Start and Close, or Run under a supervisor.
type Client struct {
	cfg     ClientConfig
	url     string // redacted
	secrets redact.Secrets
	log     *slog.Logger
	backoff backoff.Backoff
	metrics *clientMetrics

	mu    sync.Mutex
	state ClientState

	packets, bytes, lost, decodeErrors atomic.Uint64
	delivered, dropped, skipped        atomic.Uint64
	oversized                          atomic.Uint64
	queuedBytes                        atomic.Int64 // bytes of the access units in the delivery queue
	lastPacket                         atomic.Int64 // unix nanoseconds
	lastPTS                            time.Duration
	lastAUTime                         time.Time
	sessionMu                          sync.Mutex       // guards runner
	runner                             *lifecycle.Group // Start's goroutine running Run; nil before Start
}

// NewClient returns a client for cfg; nothing happens until Start or Run.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Camera == "" {
		cfg.Camera = "camera"
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportTCP
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = 32 << 20
	}
	if cfg.MaxAccessUnitBytes <= 0 {
		cfg.MaxAccessUnitBytes = 4 << 20
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 4 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.InitialBackoff)
	if cfg.Jitter == 0 {
		cfg.Jitter = backoff.EqualJitter
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Client{
		cfg:     cfg,
		url:     redact.URL(cfg.URL),
		secrets: redact.NewSecrets(cfg.URL),
		backoff: backoff.Backoff{Initial: cfg.InitialBackoff, Max: cfg.MaxBackoff, Jitter: max(cfg.Jitter, 0)},
	}
	c.log = cfg.Log.With("camera", cfg.Camera, "url", c.url)
	c.state = ClientState{State: StateIdle, Since: time.Now(), URL: c.url}
	return c
}

// Start runs the client in its own goroutine until Close, or until a permanent error (StateFailed).
func (c *Client) Start() {
	c.sessionMu.Lock()
	defer c.sessionMu.Unlock()
	if c.runner != nil {
		return
	}
	c.runner = lifecycle.NewGroup(context.Background())
	_ = c.runner.Go(c.Run) // a new group is open
}

// Close stops a client started with Start and waits for it to end, OnAccessUnit included.
// It returns the permanent error that stopped the client, if any.
func (c *Client) Close() error {
	c.sessionMu.Lock()
	runner := c.runner
	c.sessionMu.Unlock()
	if runner == nil {
		return nil
	}
	return runner.Close()
}

// State returns a snapshot of the client's state and counters.
func (c *Client) State() ClientState {
	c.mu.Lock()
	s := c.state
	c.mu.Unlock()
	s.PacketsReceived = c.packets.Load()
	s.Bytes = c.bytes.Load()
	s.PacketsLost = c.lost.Load()
	s.DecodeErrors = c.decodeErrors.Load()
	s.AUsDelivered = c.delivered.Load()
	s.AUsDropped = c.dropped.Load()
	s.AUsSkipped = c.skipped.Load()
	s.AUsOversized = c.oversized.Load()
	return s
}

// setState records a state change, logs it and reports it.
func (c *Client) setState(st State, reason error, next time.Time) {
	c.mu.Lock()
	c.state.State = st
	c.state.Since = time.Now()
	c.state.NextAttempt = next
	if reason != nil {
		c.state.Reason = c.secrets.Scrub(reason.Error())
	}
	c.mu.Unlock()
	if c.metrics != nil {
		c.metrics.setState(st)
	}
	snap := c.State()
	switch st {
	case StateBackoff:
		c.log.Warn("camera unavailable, will retry", "reason", snap.Reason, "retry_in", time.Until(next).Round(time.Millisecond))
	case StateFailed:
		c.log.Error("camera failed", "reason", snap.Reason)
	default:
		c.log.Info("camera "+string(st), "codec", snap.Codec, "transport", snap.Transport)
	}
	if c.cfg.OnStateChange != nil {
		c.cfg.OnStateChange(snap)
	}
}

// Run pulls the stream until ctx ends (it then returns nil) or a permanent error occurs (it returns
// it, wrapping ErrUnsupportedCodec, ErrUnauthorized, ErrBadURL or ErrBadConfig). Sessions that end for any other
// reason are retried after a backoff. Run calls OnAccessUnit from one goroutine that it stops before
// returning. Run must not be called twice at the same time.
func (c *Client) Run(ctx context.Context) error {
	if c.cfg.OnAccessUnit == nil {
		return c.fail(fmt.Errorf("%w: OnAccessUnit is required", ErrBadConfig))
	}
	switch strings.ToLower(c.cfg.Transport) {
	case TransportTCP, TransportUDP, TransportAuto:
	default:
		return c.fail(fmt.Errorf("%w: transport %q (want tcp, udp or auto)", ErrBadConfig, c.cfg.Transport))
	}
	u, err := parseURL(c.cfg.URL)
	if err != nil {
		return c.fail(err)
	}
	if c.metrics == nil {
		m, err := newClientMetrics(c.cfg.Registerer, c.cfg.Camera)
		if err != nil {
			return c.fail(fmt.Errorf("metrics: %w", err))
		}
		c.metrics = m
	}

	// Full: the new unit is dropped and counted, and the session drops up to the next random-access unit.
	q := queue.New[media.AccessUnit](c.cfg.QueueSize, queue.Options{Drops: c.metrics.dropQueue})
	deliverer := lifecycle.NewGroup(ctx)
	defer func() { _ = deliverer.Close() }() // deliver returns only the end of ctx
	_ = deliverer.Go(func(stop context.Context) error { return c.deliver(ctx, stop, q) })

	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.mu.Lock()
			c.state.Reconnects++
			c.mu.Unlock()
			c.metrics.reconnects.Inc()
		}
		c.setState(StateConnecting, nil, time.Time{})
		delivered, err := c.session(ctx, u, q)
		if ctx.Err() != nil {
			c.setState(StateClosed, nil, time.Time{})
			return nil
		}
		if isPermanent(err) {
			return c.fail(err)
		}
		if delivered {
			c.backoff.Reset()
		}
		wait := c.backoff.Next()
		c.setState(StateBackoff, err, time.Now().Add(wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			c.setState(StateClosed, nil, time.Time{})
			return nil
		}
	}
}

// deliver hands the queued access units to OnAccessUnit until stop ends. When Run ends on its own
// (ctx is still live: a permanent error), the units still queued are delivered first; when ctx ended
// (closing), they are dropped.
func (c *Client) deliver(ctx, stop context.Context, q *queue.Queue[media.AccessUnit]) error {
	one := func(au media.AccessUnit) {
		c.cfg.OnAccessUnit(au)
		c.delivered.Add(1)
		c.metrics.aus.Inc()
	}
	for {
		au, err := q.Pop(stop)
		if err != nil {
			break
		}
		c.queuedBytes.Add(-int64(auBytes(au)))
		if err := ctx.Err(); err != nil {
			return err // closing: drop without delivering
		}
		one(au)
	}
	for ctx.Err() == nil {
		au, ok := q.TryPop()
		if !ok {
			break
		}
		c.queuedBytes.Add(-int64(auBytes(au)))
		one(au)
	}
	return nil
}

// fail enters StateFailed with err, returned redacted.
func (c *Client) fail(err error) error {
	c.setState(StateFailed, err, time.Time{})
	return &redactedError{msg: c.secrets.Scrub(err.Error()), err: err}
}

// rejectedError is a session refused by ClientConfig.CheckParams: its message is the check's, and
// it is ErrRejected.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string        { return e.err.Error() }
func (e *rejectedError) Unwrap() error        { return e.err }
func (e *rejectedError) Is(target error) bool { return target == ErrRejected }

// auBytes is the size of an access unit's NAL units.
func auBytes(au media.AccessUnit) int {
	n := 0
	for _, b := range au.NALUs {
		n += len(b)
	}
	return n
}

// redactedError shows a message with credentials removed while keeping the chain for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// isPermanent reports whether retrying cannot help.
func isPermanent(err error) bool {
	return errors.Is(err, ErrUnsupportedCodec) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrBadURL) ||
		errors.Is(err, ErrBadConfig) || errors.Is(err, ErrRejected)
}

// parseURL checks and parses an RTSP URL.
func parseURL(raw string) (*base.URL, error) {
	u, err := base.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrBadURL, redact.URL(raw))
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("%w %q: scheme must be rtsp or rtsps", ErrBadURL, redact.URL(raw))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w %q: no host", ErrBadURL, redact.URL(raw))
	}
	return u, nil
}

// classify turns gortsplib errors into the package's.
func classify(err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) && bad.Code == base.StatusUnauthorized {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return err
}

// session runs one RTSP session: DESCRIBE, SETUP, PLAY, then reading until an error, a stall or the
// end of ctx. It reports whether any access unit was queued.
func (c *Client) session(ctx context.Context, u *base.URL, q *queue.Queue[media.AccessUnit]) (bool, error) {
	gc := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		ReadTimeout:  c.cfg.Timeout,
		WriteTimeout: c.cfg.Timeout,
		DialContext:  c.cfg.DialContext,
	}
	switch strings.ToLower(c.cfg.Transport) {
	case TransportTCP:
		v := gortsplib.TransportTCP
		gc.Transport = &v
	case TransportUDP:
		v := gortsplib.TransportUDP
		gc.Transport = &v
	}
	var asm *assembler
	gc.OnPacketsLost = func(n uint64) {
		c.lost.Add(n)
		c.metrics.lost.Add(float64(n))
		if asm != nil {
			asm.lost()
		}
	}
	gc.OnDecodeError = func(err error) {
		c.decodeErrors.Add(1)
		c.metrics.decodeErrors.Inc()
		c.log.Debug("RTP/RTCP decode error", "err", c.secrets.Scrub(err.Error()))
	}
	var switched atomic.Bool
	gc.OnTransportSwitch = func(err error) {
		switched.Store(true)
		c.mu.Lock()
		c.state.Transport = TransportTCP
		c.mu.Unlock()
		c.log.Info("switched to TCP", "reason", c.secrets.Scrub(err.Error()))
	}
	if err := gc.Start2(); err != nil {
		return false, fmt.Errorf("start RTSP client: %w", err)
	}
	stop := context.AfterFunc(ctx, gc.Close)
	defer func() {
		stop()
		gc.Close()
	}()

	desc, _, err := gc.Describe(u)
	if err != nil {
		return false, fmt.Errorf("describe: %w", classify(err))
	}
	medi, forma, err := pickFormat(desc)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	ptsBase := time.Duration(0)
	if !c.lastAUTime.IsZero() {
		ptsBase = c.lastPTS + time.Since(c.lastAUTime)
	}
	c.mu.Unlock()
	asm, err = newAssembler(forma, ptsBase)
	if err != nil {
		return false, err
	}
	if c.cfg.CheckParams != nil {
		if err := c.cfg.CheckParams(asm.codec, asm.params()); err != nil {
			return false, &rejectedError{fmt.Errorf("sdp sprop-parameter-sets: %w", err)}
		}
	}
	if _, err := gc.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return false, fmt.Errorf("setup: %w", classify(err))
	}

	var (
		queued   atomic.Bool
		first    = true
		resync   bool // dropping until a random-access unit after an overflow
		pending  int  // payload bytes of the unit being assembled
		limitLog = newLogLimiter(10 * time.Second)
	)
	gc.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		c.lastPacket.Store(time.Now().UnixNano())
		c.packets.Add(1)
		c.metrics.packets.Inc()
		size := uint64(pkt.MarshalSize())
		c.bytes.Add(size)
		c.metrics.bytes.Add(float64(size))

		pending += len(pkt.Payload)
		if pending > c.cfg.MaxAccessUnitBytes {
			// An endless NAL unit or a huge picture: throw away what was assembled instead of
			// accumulating it; the rest of the unit is dropped as incomplete.
			asm.cutOff()
			pending = 0
			c.dropped.Add(1)
			c.oversized.Add(1)
			c.metrics.dropOversize.Inc()
			if limitLog.allow() {
				c.log.Warn("access unit cut off", "reason", fmt.Sprintf("over %d bytes (decode.max_access_unit_bytes)", c.cfg.MaxAccessUnitBytes))
			}
			return
		}
		dropped, skipped := asm.dropped, asm.skipped
		au, ok, err := asm.push(pkt)
		if ok || !asm.buffered {
			pending = 0
			if asm.buffered { // this packet already belongs to the next unit
				pending = len(pkt.Payload)
			}
		}
		if err != nil {
			c.decodeErrors.Add(1)
			c.metrics.decodeErrors.Inc()
			if limitLog.allow() {
				c.log.Warn("bad RTP packet", "err", c.secrets.Scrub(err.Error()))
			}
		}
		if n := asm.dropped - dropped; n > 0 {
			c.dropped.Add(n)
			c.metrics.dropIncompl.Add(float64(n))
		}
		if n := asm.skipped - skipped; n > 0 {
			c.skipped.Add(n)
			c.metrics.skipped.Add(float64(n))
		}
		if !ok {
			return
		}
		au.Discontinuity = first
		c.mu.Lock()
		c.lastPTS = max(c.lastPTS, au.PTS)
		c.lastAUTime = time.Now()
		c.mu.Unlock()
		if resync && !au.RandomAccess {
			// After an overflow, drop up to the next random-access unit so that the consumer never
			// gets a picture whose references it missed.
			c.dropped.Add(1)
			q.Drop()
			return
		}
		auSize := auBytes(au)
		if c.queuedBytes.Load()+int64(auSize) > int64(c.cfg.MaxQueueBytes) {
			resync = true
			c.dropped.Add(1)
			c.metrics.dropBytes.Inc()
			if limitLog.allow() {
				c.log.Warn("delivery queue over its byte limit, dropping access units up to the next random-access unit", "max_bytes", c.cfg.MaxQueueBytes)
			}
			return
		}
		c.queuedBytes.Add(int64(auSize))
		au.Arrived = time.Now()
		if q.Push(au) {
			queued.Store(true)
			first, resync = false, false
			return
		}
		c.queuedBytes.Add(-int64(auSize))
		resync = true // dropped and counted by the queue
		c.dropped.Add(1)
		if limitLog.allow() {
			c.log.Warn("delivery queue full, dropping access units up to the next random-access unit", "queue", q.Cap())
		}
	})

	c.lastPacket.Store(time.Now().UnixNano())
	if _, err := gc.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", classify(err))
	}
	c.mu.Lock()
	c.state.Codec = asm.codec
	if !switched.Load() {
		c.state.Transport = strings.ToLower(c.cfg.Transport)
		if c.state.Transport == TransportAuto {
			c.state.Transport = TransportUDP // until gortsplib switches to TCP
		}
	}
	c.mu.Unlock()
	c.setState(StateStreaming, nil, time.Time{})

	waitErr := make(chan error, 1)
	go func() { waitErr <- gc.Wait() }()
	tick := time.NewTicker(max(c.cfg.StallTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	var stalled error // set when the stall check closed the session
	for {
		select {
		case err := <-waitErr:
			if ctx.Err() != nil {
				return queued.Load(), ctx.Err()
			}
			if stalled != nil {
				return queued.Load(), stalled // the end we caused: the stall is the reason
			}
			return queued.Load(), fmt.Errorf("session ended: %w", classify(err))
		case <-tick.C:
			if since := time.Since(time.Unix(0, c.lastPacket.Load())); stalled == nil && since > c.cfg.StallTimeout {
				stalled = fmt.Errorf("%w: no RTP packet for %v", ErrStalled, since.Round(time.Millisecond))
				gc.Close()
			}
		}
	}
}

// pickFormat chooses the stream's H.264 video, else its H.265 video.
func pickFormat(desc *description.Session) (*description.Media, format.Format, error) {
	var h264f *format.H264
	if medi := desc.FindFormat(&h264f); medi != nil {
		return medi, h264f, nil
	}
	var h265f *format.H265
	if medi := desc.FindFormat(&h265f); medi != nil {
		return medi, h265f, nil
	}
	var offered []string
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			offered = append(offered, string(m.Type)+"/"+f.Codec())
		}
	}
	return nil, nil, fmt.Errorf("%w (offered: %s)", ErrUnsupportedCodec, strings.Join(offered, ", "))
}
