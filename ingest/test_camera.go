package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/pion/rtp"
)

// AUSource yields access units in decoding order with their presentation times. The built-in test
// camera reads one; AnnexBSource is one, and scripted scenes can plug in their own.
type AUSource interface {
	// Next returns the next access unit. io.EOF ends the stream; the first access unit should be a
	// random-access unit carrying its parameter sets.
	Next() (media.AccessUnit, error)
}

// TestCameraConfig configures a TestCamera.
type TestCameraConfig struct {
	// Address is the RTSP (TCP) listen address. Use "127.0.0.1:0" for a random port.
	// It defaults to "127.0.0.1:8554".
	Address string
	// UDPRTPAddress and UDPRTCPAddress, when both set, enable the UDP transport (the RTP port must be
	// even and the RTCP port the next one). They default to empty: TCP only.
	UDPRTPAddress  string
	UDPRTCPAddress string
	// Path the stream is served at. It defaults to "/testcam".
	Path string
	// Source of access units. It defaults to the built-in clip, looped (NewDefaultSource(true)).
	Source AUSource
	// Fast sends access units as fast as the source yields them instead of at real-time pace; readers'
	// write queues (WriteQueueSize) absorb the bursts. It defaults to false.
	Fast bool
	// User and Pass, when User is set, are the credentials readers must give (basic or digest).
	// They default to empty: no authentication.
	User string
	Pass string
	// WriteQueueSize is the number of RTP packets queued per reader, a power of two; packets beyond
	// it are dropped. It defaults to 1024, or 16384 when Fast is set.
	WriteQueueSize int
	// Log receives the camera's log lines. It defaults to discarding them.
	Log *slog.Logger
}

// TestCamera is the built-in RTSP camera: a gortsplib server that serves one H.264 or H.265 stream from
// an AUSource. The source is read from the first PLAY on, so the first reader gets the stream from its
// start; later readers join the live stream.
type TestCamera struct {
	cfg TestCameraConfig

	server    *gortsplib.Server
	writer    atomic.Pointer[streamWriter] // set once Start has made the stream
	first     media.AccessUnit
	addr      string
	playOnce  sync.Once
	closeOnce sync.Once
	playing   chan struct{}
	mu        sync.Mutex
	playConn  *gortsplib.ServerConn // the connection whose PLAY is being answered
	sent      atomic.Uint64
	dropped   atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewTestCamera returns a camera; Start makes it listen.
func NewTestCamera(cfg TestCameraConfig) *TestCamera {
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:8554"
	}
	if cfg.Path == "" {
		cfg.Path = "/testcam"
	}
	if !strings.HasPrefix(cfg.Path, "/") {
		cfg.Path = "/" + cfg.Path
	}
	if cfg.WriteQueueSize == 0 {
		cfg.WriteQueueSize = 1024
		if cfg.Fast {
			cfg.WriteQueueSize = 16384
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &TestCamera{cfg: cfg, playing: make(chan struct{}), done: make(chan struct{})}
}

// Start reads the first access unit, opens the listeners and starts sending once a reader plays.
func (c *TestCamera) Start() error {
	if c.cfg.Source == nil {
		src, err := NewDefaultSource(true)
		if err != nil {
			return fmt.Errorf("test camera: default source: %w", err)
		}
		c.cfg.Source = src
	}
	first, err := c.cfg.Source.Next()
	if err != nil {
		return fmt.Errorf("test camera: first access unit: %w", err)
	}
	c.first = first
	if _, err := formatFor(first); err != nil {
		return fmt.Errorf("test camera: %w", err)
	}

	c.server = &gortsplib.Server{
		Handler:        c,
		RTSPAddress:    c.cfg.Address,
		UDPRTPAddress:  c.cfg.UDPRTPAddress,
		UDPRTCPAddress: c.cfg.UDPRTCPAddress,
		WriteQueueSize: c.cfg.WriteQueueSize,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				c.addr = ln.Addr().String()
			}
			return ln, err
		},
	}
	if err := c.server.Start(); err != nil {
		return fmt.Errorf("test camera: listen on %s: %w", c.cfg.Address, err)
	}
	w, err := newStreamWriter(c.server, first)
	if err != nil {
		c.server.Close()
		return fmt.Errorf("test camera: %w", err)
	}
	c.writer.Store(w)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	c.cfg.Log.Info("test camera listening", "url", c.URL())
	return nil
}

// Close stops sending, disconnects readers and closes the listeners. It waits for the sender to end
// and may be called more than once.
func (c *TestCamera) Close() {
	c.closeOnce.Do(func() {
		if c.cancel == nil {
			return
		}
		c.cancel()
		<-c.done
		c.writer.Load().close()
		c.server.Close()
	})
}

// URL is the rtsp:// address readers use (with the credentials when the camera requires them).
func (c *TestCamera) URL() string {
	userinfo := ""
	if c.cfg.User != "" {
		userinfo = c.cfg.User + ":" + c.cfg.Pass + "@"
	}
	return "rtsp://" + userinfo + c.addr + c.cfg.Path
}

// Addr is the address the camera listens on, host:port.
func (c *TestCamera) Addr() string { return c.addr }

// Sent is the number of access units sent so far.
func (c *TestCamera) Sent() uint64 { return c.sent.Load() }

// formatFor builds the RTP format of the stream that begins with au, with its parameter sets for the SDP.
func formatFor(au media.AccessUnit) (format.Format, error) {
	switch au.Codec {
	case media.CodecH264:
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		for _, n := range au.NALUs {
			switch h264.NALUType(n[0] & 0x1F) {
			case h264.NALUTypeSPS:
				f.SPS = n
			case h264.NALUTypePPS:
				f.PPS = n
			}
		}
		return f, nil
	case media.CodecH265:
		f := &format.H265{PayloadTyp: 96}
		for _, n := range au.NALUs {
			switch h265.NALUType((n[0] >> 1) & 0x3F) {
			case h265.NALUType_VPS_NUT:
				f.VPS = n
			case h265.NALUType_SPS_NUT:
				f.SPS = n
			case h265.NALUType_PPS_NUT:
				f.PPS = n
			}
		}
		return f, nil
	}
	return nil, fmt.Errorf("unsupported codec %q", au.Codec)
}

// rtpEncoder is what the H.264 and H.265 RTP encoders have in common.
type rtpEncoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

func newEncoder(forma format.Format) (rtpEncoder, error) {
	switch f := forma.(type) {
	case *format.H264:
		return f.CreateEncoder()
	case *format.H265:
		return f.CreateEncoder()
	}
	return nil, fmt.Errorf("no encoder for %s", forma.Codec())
}

// run sends the source's access units, paced on their presentation times, until the source ends or
// the camera closes.
func (c *TestCamera) run() {
	defer close(c.done)
	select {
	case <-c.playing:
	case <-c.ctx.Done():
		return
	}
	var (
		start   = time.Now()
		basePTS = c.first.PTS
		maxPTS  = c.first.PTS
		timer   = time.NewTimer(0)
	)
	defer timer.Stop()
	au := c.first
	for {
		if !c.cfg.Fast {
			maxPTS = max(maxPTS, au.PTS)
			if wait := time.Until(start.Add(maxPTS - basePTS)); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-c.ctx.Done():
					return
				}
			}
		} else if c.ctx.Err() != nil {
			return
		}
		if err := c.writer.Load().write(au, basePTS); err != nil {
			c.cfg.Log.Error("test camera: send", "err", err)
		} else {
			c.sent.Add(1)
		}
		next, err := c.cfg.Source.Next()
		if errors.Is(err, io.EOF) {
			c.cfg.Log.Info("test camera: source ended", "sent", c.sent.Load())
			return
		}
		if err != nil {
			c.cfg.Log.Error("test camera: source", "err", err)
			return
		}
		au = next
	}
}

// streamFor answers DESCRIBE and SETUP: the stream, once Start has made it, to an authorised reader of
// the camera's path.
func (c *TestCamera) streamFor(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, *gortsplib.ServerStream, error) {
	res, err := c.authorize(conn, req, path)
	if err != nil {
		return res, nil, err
	}
	w := c.writer.Load()
	if w == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, fmt.Errorf("camera starting")
	}
	return res, w.stream, nil
}

// authorize checks the request's path and credentials.
func (c *TestCamera) authorize(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, error) {
	if c.cfg.User != "" && !conn.VerifyCredentials(req, c.cfg.User, c.cfg.Pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	if path != c.cfg.Path {
		return &base.Response{StatusCode: base.StatusNotFound}, fmt.Errorf("no stream at %q", path)
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (c *TestCamera) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return c.streamFor(ctx.Conn, ctx.Request, ctx.Path)
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (c *TestCamera) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return c.streamFor(ctx.Conn, ctx.Request, ctx.Path)
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (c *TestCamera) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	c.mu.Lock()
	c.playConn = ctx.Conn
	c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnResponse implements gortsplib.ServerHandlerOnResponse. The answer to the first successful PLAY
// starts the stream: by then the reader is active, so it receives the first access unit.
func (c *TestCamera) OnResponse(conn *gortsplib.ServerConn, res *base.Response) {
	c.mu.Lock()
	isPlay := conn == c.playConn
	if isPlay {
		c.playConn = nil
	}
	c.mu.Unlock()
	if isPlay && res.StatusCode == base.StatusOK {
		c.playOnce.Do(func() { close(c.playing) })
	}
}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError: a reader's queue is full.
func (c *TestCamera) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	c.dropped.Add(1)
}

// Dropped is the number of RTP packets dropped because a reader's write queue was full.
func (c *TestCamera) Dropped() uint64 { return c.dropped.Load() }
