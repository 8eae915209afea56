// Package source is the one way mvwatch turns an input into decoded frames: a camera URL (rtsp://,
// rtsps://) is pulled with an ingest.Client and decoded access unit by access unit with a
// demux.Decoder; a file (a container FFmpeg reads, or a raw H.264/H.265 Annex-B stream) is read and
// decoded by demux.File. Either way frames come to one callback in output order, the decoder is
// flushed and reset when a camera session ends and a new one begins, and flushed once more at the
// end, so the last pictures are never lost.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/decodelimit"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/pregate"
)

// Config configures a Source. Only Input is required.
type Config struct {
	// Input is an rtsp:// or rtsps:// camera URL, or the path of a video file (a file:// URL names one
	// too). Required.
	Input string
	// Camera names the source in log lines and client metrics. It defaults to "camera".
	Camera string
	// Decoder configures the decoder. For a camera, Threads defaults to 1: each camera's decoder is
	// single-threaded, so one camera takes at most one core whatever it sends.
	Decoder demux.DecoderConfig
	// Log receives the source's log lines. It defaults to slog.Default().
	Log *slog.Logger

	// The fields below apply to camera URLs only.

	// Limits bound what the camera may make the decoder allocate and do (decodelimit): every SPS,
	// from the SDP and in-band, is checked before the decoder sees it, and a camera over a limit
	// fails for good with the violation as its reason, its decoder freed at once; access units
	// over the camera's rate are dropped (Throttle). Zero fields take decodelimit's defaults.
	Limits decodelimit.Limits
	// LimitMetrics, when set, counts limit failures and throttled access units.
	LimitMetrics *decodelimit.Metrics

	// Transport is the RTSP transport: "tcp", "udp" or "auto". It defaults to the client's default.
	Transport string
	// QueueSize is the number of access units buffered between network and decoder; a full queue
	// drops and counts. It defaults to the client's default.
	QueueSize int
	// MaxTime ends the run after this long. It defaults to 0: no limit.
	MaxTime time.Duration
	// Idle ends the run once access units have arrived and then none came for this long, which is
	// how a finite stream (a file served over RTSP) ends. It defaults to 0: the client reconnects
	// forever.
	Idle time.Duration
	// OnState, when set, sees every client state change. It must return quickly.
	OnState func(ingest.ClientState)
	// OnAccessUnit, when set, sees every access unit before it is decoded (the restream server, for
	// one). It runs on the delivery goroutine, must not block and must not modify the unit.
	OnAccessUnit func(media.AccessUnit)
	// OnDiscontinuity, when set, is called when a new camera session begins after an earlier one
	// (a reconnect), once the old session's last frames have been flushed to the frame callback and
	// before the new session's first frame: timestamps and references start again there.
	OnDiscontinuity func()
	// OnDecode, when set, is called after every access unit sent to the decoder, on the delivery
	// goroutine.
	OnDecode func(DecodeInfo)
	// DialContext opens the camera's TCP connection (the camera policy's dialer, which refuses denied
	// addresses after name resolution). It defaults to the client's.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)

	// PreGate, when set, puts the pre-decode gate in front of the decoder (see PreGate): for a camera,
	// and for a raw H.264/H.265 file (.264, .h264, .265, .h265, .hevc), which is then read access unit
	// by access unit as a camera is. It defaults to nil: every access unit is decoded.
	PreGate *PreGate
	// OnGap, when set, is called on the delivery goroutine when the pre-gate resumes decoding after
	// access units it released undecoded: the frames before the gap have been handed to the frame
	// callback, and the next frame (an IDR's) does not follow the last one. PTS keeps increasing.
	OnGap func()
	// OnWake, when set, is called on the delivery goroutine when the pre-gate wakes a sleeping camera
	// (motion in the bitstream, or a keyframe check that found the scene changed), before the woken
	// units are decoded: how long a wake-up takes to follow what happened in front of the camera.
	OnWake func(Wake)
}

// Wake describes one pre-gate wake-up.
type Wake struct {
	// PTS is the live access unit's at which the camera woke; ReplayFrom the first unit handed to
	// the decoder with it (the buffered GOP's IDR, or the previous GOP's after a keyframe check).
	PTS, ReplayFrom time.Duration
	// Units is the number of units decoded at once to catch up, the live one included.
	Units int
	// Keyframe is true when the keyframe check woke the camera rather than the bitstream signals.
	Keyframe bool
	// Fallback is set when the camera woke because it fell back to plain decoding.
	Fallback pregate.FallbackReason
}

// DecodeInfo describes one access unit's trip through the decoder.
type DecodeInfo struct {
	Took  time.Duration  // time spent in the decoder, frame callbacks included
	Stats demux.Stats    // the decoder's counters after the unit
	HW    demux.HWStatus // the hardware-decoder choice, meaningful once Stats.Packets > 0
	Err   error          // the decoder's error for the unit: nil, demux.ErrNoRandomAccess, or one wrapping demux.ErrDecode
}

// Source decodes one input. Run it once.
type Source struct {
	cfg Config

	mu        sync.Mutex // guards client, stats, throttled and pg
	client    *ingest.Client
	stats     demux.Stats
	throttled uint64
	pg        *preGate
}

// New returns a source for cfg; Run decodes it.
func New(cfg Config) *Source {
	if cfg.Camera == "" {
		cfg.Camera = "camera"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Source{cfg: cfg}
}

// IsURL reports whether input names a camera (rtsp:// or rtsps://) rather than a file.
func IsURL(input string) bool {
	return strings.HasPrefix(input, "rtsp://") || strings.HasPrefix(input, "rtsps://")
}

// Run decodes the input and calls fn for every frame in output order, from one goroutine at a time,
// until the input ends, ctx ends, the camera fails for good, or fn returns an error. The decoder is
// flushed before Run returns.
//
// For a camera, Run returns nil when the stream went idle (Config.Idle) or MaxTime or a deadline of
// ctx passed, and the cause of ctx when it was cancelled. For a file, it returns what demux.File.Run
// returns. An error of fn is returned as is.
func (s *Source) Run(ctx context.Context, fn func(*media.Frame) error) error {
	if s.cfg.Input == "" {
		return errors.New("source: no input")
	}
	if IsURL(s.cfg.Input) {
		return s.runCamera(ctx, fn)
	}
	return s.runFile(ctx, fn)
}

// ClientState is the camera client's state; the zero value for a file or before Run starts.
func (s *Source) ClientState() ingest.ClientState {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return ingest.ClientState{}
	}
	return c.State()
}

// Throttled is the number of access units dropped because the camera sent faster than its rate
// allows (Config.Limits); meaningful once Run has returned.
func (s *Source) Throttled() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Stats returns the decoder's counters once Run has returned.
func (s *Source) Stats() demux.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Source) setStats(st demux.Stats) {
	s.mu.Lock()
	s.stats = st
	s.mu.Unlock()
}

// runFile decodes a file with demux.File.
func (s *Source) runFile(ctx context.Context, fn func(*media.Frame) error) error {
	path := strings.TrimPrefix(s.cfg.Input, "file://")
	if codec, ok := isAnnexB(path); ok && s.cfg.PreGate != nil {
		return s.runAccessUnits(ctx, path, codec, fn)
	}
	f, err := demux.OpenFile(path, s.cfg.Decoder)
	if err != nil {
		return err
	}
	defer f.Close()
	err = f.Run(ctx, fn)
	s.setStats(f.Stats())
	return err
}

// runCamera pulls the camera with an ingest.Client and decodes its access units on the client's
// delivery goroutine.
func (s *Source) runCamera(ctx context.Context, fn func(*media.Frame) error) error {
	if s.cfg.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.MaxTime)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	if s.cfg.Decoder.Threads <= 0 {
		s.cfg.Decoder.Threads = 1
	}
	limits := s.cfg.Limits.WithDefaults()
	s.cfg.LimitMetrics.Camera(s.cfg.Camera)
	d := s.newCamDecoder(fn, cancel, limits)
	// The SDP's parameter sets are checked with a checker of their own: it runs on the client's
	// goroutine, while d.check belongs to the delivery goroutine.
	sdpCheck := decodelimit.NewChecker(limits, s.cfg.LimitMetrics)
	failed := make(chan ingest.ClientState, 1)
	client := ingest.NewClient(ingest.ClientConfig{
		URL:                s.cfg.Input,
		Camera:             s.cfg.Camera,
		Transport:          s.cfg.Transport,
		QueueSize:          s.cfg.QueueSize,
		MaxQueueBytes:      limits.MaxQueueBytes,
		MaxAccessUnitBytes: limits.MaxAccessUnitBytes,
		CheckParams:        sdpCheck.Check,
		DialContext:        s.cfg.DialContext,
		OnAccessUnit:       d.onAccessUnit,
		Log:                s.cfg.Log,
		OnStateChange: func(st ingest.ClientState) {
			if s.cfg.OnState != nil {
				s.cfg.OnState(st)
			}
			if st.State == ingest.StateFailed {
				select {
				case failed <- st:
				default:
				}
			}
		},
	})
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	client.Start()

	var runErr error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case st := <-failed:
			runErr = fmt.Errorf("camera %s: %s", st.URL, st.Reason)
			break loop
		case <-tick.C:
			if s.cfg.Idle > 0 && d.idleFor() > s.cfg.Idle {
				break loop
			}
		}
	}
	_ = client.Close() // after Close no delivery runs, so the decoder is ours alone
	stats, fnErr := d.finish()
	s.setStats(stats)
	s.mu.Lock()
	s.throttled = d.throttle.Dropped()
	s.mu.Unlock()
	if fnErr != nil {
		return fnErr
	}
	if runErr != nil {
		return runErr
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return context.Cause(ctx)
	}
	return nil
}

// runAccessUnits reads a raw H.264/H.265 file access unit by access unit through the camera path
// (pre-gate included), as fast as it decodes.
func (s *Source) runAccessUnits(ctx context.Context, path string, codec media.Codec, fn func(*media.Frame) error) error {
	src, err := ingest.OpenAnnexB(path, ingest.AnnexBOptions{Codec: codec})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The stream's parameter sets are bounded as a camera's are; a file read as fast as it decodes
	// is not throttled.
	limits := s.cfg.Limits.WithDefaults()
	limits.FPSMargin = 0
	d := s.newCamDecoder(fn, cancel, limits)
	for ctx.Err() == nil {
		au, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cancel(err)
			break
		}
		d.onAccessUnit(au)
	}
	stats, fnErr := d.finish()
	s.setStats(stats)
	s.mu.Lock()
	s.throttled = d.throttle.Dropped()
	s.mu.Unlock()
	if fnErr != nil {
		return fnErr
	}
	return context.Cause(ctx)
}

// newCamDecoder returns the decoder of the access-unit path: the decode limits are checked on every
// access unit before the pre-gate (when configured) buffers it or the decoder sees it.
func (s *Source) newCamDecoder(fn func(*media.Frame) error, cancel context.CancelCauseFunc, limits decodelimit.Limits) *camDecoder {
	d := &camDecoder{cfg: &s.cfg, fn: fn, cancel: cancel,
		check: decodelimit.NewChecker(limits, s.cfg.LimitMetrics), throttle: decodelimit.NewThrottle(limits)}
	if s.cfg.PreGate != nil {
		d.pg = newPreGate(*s.cfg.PreGate, s.cfg.Camera)
		s.mu.Lock()
		s.pg = d.pg
		s.mu.Unlock()
	}
	return d
}

// camDecoder decodes a camera's access units. Its methods run on the client's delivery goroutine,
// and finish on Run's once the client is closed.
type camDecoder struct {
	cfg    *Config
	fn     func(*media.Frame) error
	cancel context.CancelCauseFunc

	mu       sync.Mutex // guards everything below between delivery and Run's idle check
	check    *decodelimit.Checker
	throttle *decodelimit.Throttle
	dec      *demux.Decoder
	codec    media.Codec
	lastAU   time.Time
	err      error // the first error that ends the run
	decErrs  int
	pg       *preGate // nil without a pre-gate
}

// frame hands a decoded picture on, noting keyframes for the pre-gate's slow-change check.
func (d *camDecoder) frame(f *media.Frame) error {
	if d.pg != nil && f.KeyFrame {
		d.pg.keyframe(f)
	}
	return d.fn(f)
}

// idleFor is how long no access unit came since the last one was handled, 0 before the first.
func (d *camDecoder) idleFor() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastAU.IsZero() {
		return 0
	}
	return time.Since(d.lastAU)
}

func (d *camDecoder) fail(err error) {
	d.err = err
	d.cancel(err)
}

func (d *camDecoder) onAccessUnit(au media.AccessUnit) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Idle counts from the end of the last delivery: a slow decode is not a quiet stream.
	defer func() { d.lastAU = time.Now() }()
	if d.err != nil {
		return
	}
	// Bounded by construction: the parameter sets are checked before the decoder (or anyone
	// downstream) sees them; a camera over a limit fails and its decoder's memory goes at once.
	if err := d.check.Check(au.Codec, au.NALUs); err != nil {
		d.cfg.Log.Error("camera over a decode limit", "camera", d.cfg.Camera, "reason", err)
		if d.dec != nil {
			d.dec.Close()
			d.dec = nil
		}
		d.fail(err)
		return
	}
	if d.cfg.OnAccessUnit != nil {
		d.cfg.OnAccessUnit(au)
	}
	// The rate is judged on arrival: units queued behind a slow decode (a replayed GOP) arrive in
	// real time and leave the queue in a burst.
	arrived := au.Arrived
	if arrived.IsZero() {
		arrived = time.Now()
	}
	if !d.throttle.Admit(arrived, d.check.FPS(), au.RandomAccess) {
		d.cfg.LimitMetrics.Throttled(d.cfg.Camera, 1)
		if n := d.throttle.Dropped(); n == 1 || n%1000 == 0 {
			d.cfg.Log.Warn("camera sends faster than its frame rate allows, access units dropped", "camera", d.cfg.Camera,
				"rate", d.throttle.Rate(d.check.FPS()), "dropped", n)
		}
		return
	}
	if au.Discontinuity && d.dec != nil {
		// A new session: drain the old one's pictures and reset the decoder; timestamps and
		// references start again.
		if err := d.dec.Flush(d.frame); err != nil {
			d.fail(err)
			return
		}
		if au.Codec != d.codec {
			d.dec.Close()
			d.dec = nil
		}
		if d.cfg.OnDiscontinuity != nil {
			d.cfg.OnDiscontinuity()
		}
	}
	if d.dec == nil {
		dec, err := demux.NewDecoder(au.Codec, d.cfg.Decoder)
		if err != nil {
			d.fail(err)
			return
		}
		d.dec, d.codec = dec, au.Codec
	}
	if d.pg != nil {
		d.gated(au)
		return
	}
	d.decode(au, d.frame)
}

// decode sends one access unit to the decoder, frames to fn; false when the run must end.
func (d *camDecoder) decode(au media.AccessUnit, fn func(*media.Frame) error) bool {
	start := time.Now()
	err := d.dec.Decode(au, fn)
	if d.cfg.OnDecode != nil {
		d.cfg.OnDecode(DecodeInfo{Took: time.Since(start), Stats: d.dec.Stats(), HW: d.dec.HW(), Err: err})
	}
	switch {
	case err == nil, errors.Is(err, demux.ErrNoRandomAccess):
	case errors.Is(err, demux.ErrDecode):
		d.decErrs++
		if d.decErrs <= 3 {
			d.cfg.Log.Warn("decode error, access unit skipped", "camera", d.cfg.Camera, "err", err)
		}
	default:
		d.fail(err)
		return false
	}
	return true
}

// finish flushes and closes the decoder once no delivery runs any more, and returns its counters and
// the error that ended the run, if any.
func (d *camDecoder) finish() (demux.Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pg != nil {
		defer d.pg.close()
	}
	if d.dec == nil {
		return demux.Stats{}, d.err
	}
	if d.err == nil {
		d.err = d.dec.Flush(d.frame)
	}
	st := d.dec.Stats()
	d.dec.Close()
	d.dec = nil
	return st, d.err
}
