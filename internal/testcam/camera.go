// Package testcam is the built-in test camera: an RTSP server that plays a Source of access units at
// real-time pace (or as fast as possible for tests), and the clips embedded for it (DefaultClip, the
// scripted SceneClip). `mvwatch testcam`, `mvwatch live` and serve's demo camera (no config given) use
// it, and so do the tests of the packages that read cameras; the worker and the event service do not.
package testcam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/restream"
)

// Source yields access units in decoding order with their presentation times. The test camera reads
// one; ingest.AnnexBSource is one, and scripted scenes can plug in their own (Concat).
type Source interface {
	// Next returns the next access unit. io.EOF ends the stream; the first access unit should be a
	// random-access unit carrying its parameter sets.
	Next() (media.AccessUnit, error)
}

// Config configures a Camera.
type Config struct {
	// Address is the RTSP (TCP) listen address. Use "127.0.0.1:0" for a random port.
	// It defaults to "127.0.0.1:8554".
	Address string
	// UDPRTPAddress and UDPRTCPAddress, when both set, enable the UDP transport (the RTP port must be
	// even and the RTCP port the next one). They default to empty: TCP only.
	UDPRTPAddress  string
	UDPRTCPAddress string
	// Path the stream is served at. It defaults to "/testcam".
	Path string
	// Source of access units, for example ingest.NewAnnexBSource(DefaultClip(), ...). Required.
	Source Source
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

// Camera serves one H.264 or H.265 stream from a Source over RTSP. The source is read from the first
// PLAY on, so the first reader gets the stream from its start; later readers join the live stream.
type Camera struct {
	cfg Config

	server    *Server
	stream    *restream.Stream
	first     media.AccessUnit
	closeOnce sync.Once
	sent      atomic.Uint64
	epoch     atomic.Int64 // unix nanoseconds at which the first access unit's PTS was due

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a camera; Start makes it listen.
func New(cfg Config) *Camera {
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:8554"
	}
	if cfg.Path == "" {
		cfg.Path = "/testcam"
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
	c := &Camera{cfg: cfg, done: make(chan struct{})}
	c.server = NewServer(ServerConfig{Address: cfg.Address, UDPRTPAddress: cfg.UDPRTPAddress, UDPRTCPAddress: cfg.UDPRTCPAddress,
		Path: cfg.Path, User: cfg.User, Pass: cfg.Pass, WriteQueueSize: cfg.WriteQueueSize})
	return c
}

// Start reads the first access unit, opens the listeners and starts sending once a reader plays.
func (c *Camera) Start() error {
	if c.cfg.Source == nil {
		return errors.New("test camera: no source")
	}
	first, err := c.cfg.Source.Next()
	if err != nil {
		return fmt.Errorf("test camera: first access unit: %w", err)
	}
	c.first = first
	if err := c.server.Start(); err != nil {
		return fmt.Errorf("test camera: %w", err)
	}
	st, err := restream.NewStream(c.server.RTSP(), first)
	if err != nil {
		c.server.Close()
		return fmt.Errorf("test camera: %w", err)
	}
	c.stream = st
	c.server.SetStream(st.ServerStream())
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	c.cfg.Log.Info("test camera listening", "url", c.URL())
	return nil
}

// Close stops sending, disconnects readers and closes the listeners. It waits for the sender to end
// and may be called more than once.
func (c *Camera) Close() {
	c.closeOnce.Do(func() {
		if c.cancel == nil {
			return
		}
		c.cancel()
		<-c.done
		c.server.Close()
	})
}

// URL is the rtsp:// address readers use (with the credentials when the camera requires them).
func (c *Camera) URL() string { return c.server.URL(c.cfg.Path) }

// Addr is the address the camera listens on, host:port.
func (c *Camera) Addr() string { return c.server.Addr() }

// Sent is the number of access units sent so far.
func (c *Camera) Sent() uint64 { return c.sent.Load() }

// Dropped is the number of RTP packets dropped because a reader's write queue was full.
func (c *Camera) Dropped() uint64 { return c.server.Dropped() }

// Epoch is the wall-clock time the first access unit was sent at, once a reader plays (the zero time
// before): an access unit with presentation time p is sent at Epoch() + p - the first's (real-time
// pace), which is what a glass-to-glass measure compares a displayed picture with.
func (c *Camera) Epoch() time.Time {
	if ns := c.epoch.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// run sends the source's access units, paced on their presentation times, until the source ends or
// the camera closes.
func (c *Camera) run() {
	defer close(c.done)
	select {
	case <-c.server.Playing():
	case <-c.ctx.Done():
		return
	}
	var (
		start   = time.Now()
		basePTS = c.first.PTS
		maxPTS  = c.first.PTS
		timer   = time.NewTimer(0)
	)
	c.epoch.Store(start.UnixNano())
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
		if err := c.stream.Write(au, basePTS); err != nil {
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
