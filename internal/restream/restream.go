// Package restream republishes cameras over RTSP: one pull per camera (the camera runner hands each
// access unit on) served at rtsp://HOST:PORT/<camera> to many viewers. It is egress, not ingest; it
// never decodes.
package restream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"golang.org/x/net/netutil"

	mvauth "github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/media"
)

// ErrBadCameraName is returned for a camera name that cannot be an RTSP path segment.
var ErrBadCameraName = errors.New("bad camera name")

// cameraName is what a restreamed camera may be called: one URL path segment.
var cameraName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Config configures a Server.
type Config struct {
	// Address is the RTSP (TCP) listen address. It defaults to "127.0.0.1:8554".
	Address string
	// UDPAddress, when set, enables the UDP transport: RTP on this address, RTCP on the next port (the
	// port must be even; 0 picks a free pair). It defaults to empty: TCP only.
	UDPAddress string
	// Users, when Enabled, are who may view: every request needs a user name and token (RTSP Basic,
	// or Digest MD5 when every user has a digest HA1), any role. Nil: anyone may view (then keep the
	// server on loopback).
	Users *mvauth.Users
	// Metrics, when set, counts refused viewers (mvwatch_auth_refused_total{reason="rtsp_credentials"}).
	Metrics *mvauth.Metrics
	// MaxConnections caps the open RTSP connections; more wait in the accept queue. It defaults to
	// 256.
	MaxConnections int
	// WriteQueueSize is the number of RTP packets queued per viewer, a power of two; a slow viewer loses
	// packets beyond it, the others do not. It defaults to 1024.
	WriteQueueSize int
	// Log receives the server's log lines. It defaults to discarding them.
	Log *slog.Logger
}

// Server is an RTSP server that republishes cameras to many viewers: the access units of one pull
// per camera (WriteAccessUnit) are served at rtsp://HOST:PORT/<camera>.
type Server struct {
	cfg     Config
	server  *gortsplib.Server
	addr    string
	udpAddr string

	mu      sync.Mutex
	cameras map[string]*restreamCamera
	closed  bool
}

// restreamCamera is one republished camera.
type restreamCamera struct {
	mu      sync.Mutex
	writer  *Stream       // nil until the first random-access unit
	basePTS time.Duration // PTS that maps to RTP timestamp 0
	lastRel time.Duration // highest PTS-basePTS written
}

// restreamGap separates the timelines of two upstream sessions on a restreamed camera.
const restreamGap = 100 * time.Millisecond

// New returns a restream server; Start makes it listen.
func New(cfg Config) *Server {
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:8554"
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 256
	}
	if cfg.WriteQueueSize == 0 {
		cfg.WriteQueueSize = 1024
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, cameras: make(map[string]*restreamCamera)}
}

// Start opens the listeners.
func (r *Server) Start() error {
	udp, err := openUDPPair(r.cfg.UDPAddress)
	if err != nil {
		return fmt.Errorf("restream: %w", err)
	}
	r.server = &gortsplib.Server{
		Handler:        r,
		RTSPAddress:    r.cfg.Address,
		WriteQueueSize: r.cfg.WriteQueueSize,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			r.addr = ln.Addr().String()
			return netutil.LimitListener(ln, r.cfg.MaxConnections), nil
		},
		ListenPacket: udp.listenPacket,
	}
	if udp != nil {
		r.server.UDPRTPAddress, r.server.UDPRTCPAddress = udp.rtpAddr, udp.rtcpAddr
	}
	if err := r.server.Start(); err != nil {
		udp.close()
		return fmt.Errorf("restream: listen on %s: %w", r.cfg.Address, err)
	}
	r.udpAddr = ""
	if udp != nil {
		r.udpAddr = udp.rtpAddr
	}
	r.cfg.Log.Info("restream listening", "addr", r.addr, "udp", r.udpAddr, "auth", r.cfg.Users.Enabled())
	return nil
}

// Close disconnects every viewer and closes the listeners.
func (r *Server) Close() {
	r.mu.Lock()
	if r.closed || r.server == nil {
		r.mu.Unlock()
		return
	}
	r.closed = true
	cams := r.cameras
	r.cameras = map[string]*restreamCamera{}
	r.mu.Unlock()
	for _, c := range cams {
		c.close()
	}
	r.server.Close()
}

// Addr is the address the server listens on, host:port.
func (r *Server) Addr() string { return r.addr }

// UDPAddr is the UDP RTP address (RTCP: the next port), "" when UDP is off.
func (r *Server) UDPAddr() string { return r.udpAddr }

// URL is the rtsp:// address of a camera, without credentials.
func (r *Server) URL(camera string) string { return "rtsp://" + r.addr + "/" + camera }

// WriteAccessUnit republishes one access unit of a camera to its viewers. The camera's stream appears
// with its first random-access unit (units before it are ignored), and its codec and parameter sets
// come from there; a codec change starts a new stream (viewers reconnect). Calls for one camera must
// come in order; different cameras may be written concurrently.
func (r *Server) WriteAccessUnit(camera string, au media.AccessUnit) error {
	if !cameraName.MatchString(camera) {
		return fmt.Errorf("%w %q", ErrBadCameraName, camera)
	}
	r.mu.Lock()
	if r.closed || r.server == nil {
		r.mu.Unlock()
		return fmt.Errorf("restream is not running")
	}
	c, ok := r.cameras[camera]
	if !ok {
		c = &restreamCamera{}
		r.cameras[camera] = c
	}
	r.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writer != nil && c.writer.Codec() != au.Codec && au.RandomAccess {
		c.writer.Close()
		c.writer = nil
	}
	if c.writer == nil {
		if !au.RandomAccess {
			return nil
		}
		w, err := NewStream(r.server, au)
		if err != nil {
			return fmt.Errorf("restream %s: %w", camera, err)
		}
		c.writer, c.basePTS, c.lastRel = w, au.PTS, 0
	}
	if c.writer.Codec() != au.Codec {
		return nil // the rest of a unit stream whose codec changed, until its random-access unit
	}
	if au.Discontinuity && au.PTS-c.basePTS <= c.lastRel {
		// A new upstream session whose clock restarted: continue the viewers' timeline just after
		// the last unit.
		c.basePTS = au.PTS - c.lastRel - restreamGap
	}
	c.writer.UpdateParams(au)
	if err := c.writer.Write(au, c.basePTS); err != nil {
		return fmt.Errorf("restream %s: %w", camera, err)
	}
	c.lastRel = max(c.lastRel, au.PTS-c.basePTS)
	return nil
}

// RemoveCamera stops republishing a camera and disconnects its viewers.
func (r *Server) RemoveCamera(camera string) {
	r.mu.Lock()
	c := r.cameras[camera]
	delete(r.cameras, camera)
	r.mu.Unlock()
	if c != nil {
		c.close()
	}
}

func (c *restreamCamera) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writer != nil {
		c.writer.Close()
		c.writer = nil
	}
}

// streamFor returns the stream serving a request path, with the response to give.
func (r *Server) streamFor(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := r.authenticate(conn, req); res != nil {
		return res, nil, err
	}
	name := strings.TrimPrefix(path, "/")
	r.mu.Lock()
	c := r.cameras[name]
	r.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		w := c.writer
		c.mu.Unlock()
		if w != nil {
			return &base.Response{StatusCode: base.StatusOK}, w.ServerStream(), nil
		}
	}
	return &base.Response{StatusCode: base.StatusNotFound}, nil, fmt.Errorf("no camera %q", name)
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (r *Server) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return r.streamFor(ctx.Conn, ctx.Request, ctx.Path)
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (r *Server) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return r.streamFor(ctx.Conn, ctx.Request, ctx.Path)
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (r *Server) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	r.cfg.Log.Debug("restream viewer", "camera", strings.TrimPrefix(ctx.Path, "/"), "remote", ctx.Conn.NetConn().RemoteAddr().String())
	return &base.Response{StatusCode: base.StatusOK}, nil
}
