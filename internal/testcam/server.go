package testcam

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Address is the RTSP (TCP) listen address. It defaults to "127.0.0.1:0", a random port.
	Address string
	// UDPRTPAddress and UDPRTCPAddress, when both set, enable the UDP transport (the RTP port must be
	// even and the RTCP port the next one). They default to empty: TCP only.
	UDPRTPAddress  string
	UDPRTCPAddress string
	// Path the stream is served at. It defaults to empty: any path.
	Path string
	// User and Pass, when User is set, are the credentials readers must give (basic or digest).
	User string
	Pass string
	// WriteQueueSize is the number of RTP packets queued per reader, a power of two; packets beyond
	// it are dropped and counted. It defaults to gortsplib's default.
	WriteQueueSize int
}

// Server is a bare RTSP server that serves one stream, set with SetStream, and reports the first
// successful PLAY. The test camera is built on it; tests that write RTP packets themselves (garbage,
// codecs the client refuses) use it directly.
type Server struct {
	cfg    ServerConfig
	server *gortsplib.Server
	addr   string
	stream atomic.Pointer[gortsplib.ServerStream]

	mu       sync.Mutex
	playConn *gortsplib.ServerConn // the connection whose PLAY is being answered
	playOnce sync.Once
	playing  chan struct{}
	dropped  atomic.Uint64
}

// NewServer returns a server; Start makes it listen.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	if cfg.Path != "" && !strings.HasPrefix(cfg.Path, "/") {
		cfg.Path = "/" + cfg.Path
	}
	return &Server{cfg: cfg, playing: make(chan struct{})}
}

// Start opens the listeners.
func (s *Server) Start() error {
	s.server = &gortsplib.Server{
		Handler:        s,
		RTSPAddress:    s.cfg.Address,
		UDPRTPAddress:  s.cfg.UDPRTPAddress,
		UDPRTCPAddress: s.cfg.UDPRTCPAddress,
		WriteQueueSize: s.cfg.WriteQueueSize,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				s.addr = ln.Addr().String()
			}
			return ln, err
		},
	}
	if err := s.server.Start(); err != nil {
		s.server = nil
		return fmt.Errorf("listen on %s: %w", s.cfg.Address, err)
	}
	return nil
}

// Close closes the listeners and disconnects every reader; the stream set last is closed too.
func (s *Server) Close() {
	if st := s.stream.Swap(nil); st != nil {
		st.Close()
	}
	if s.server != nil {
		s.server.Close()
	}
}

// RTSP is the gortsplib server, for making a stream (gortsplib.ServerStream or restream.NewStream).
func (s *Server) RTSP() *gortsplib.Server { return s.server }

// SetStream makes st the stream readers get. Until it is set, DESCRIBE and SETUP are answered 503.
func (s *Server) SetStream(st *gortsplib.ServerStream) { s.stream.Store(st) }

// Addr is the address the server listens on, host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the rtsp:// address readers use, with the credentials when the server requires them, for
// path (the configured one when Path is set).
func (s *Server) URL(path string) string {
	if s.cfg.Path != "" {
		path = s.cfg.Path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	userinfo := ""
	if s.cfg.User != "" {
		userinfo = s.cfg.User + ":" + s.cfg.Pass + "@"
	}
	return "rtsp://" + userinfo + s.addr + path
}

// Playing is closed once the first reader's PLAY has been answered: from then on the reader receives
// what is written to the stream.
func (s *Server) Playing() <-chan struct{} { return s.playing }

// Dropped is the number of RTP packets dropped because a reader's write queue was full.
func (s *Server) Dropped() uint64 { return s.dropped.Load() }

// streamFor answers DESCRIBE and SETUP: the stream, once set, to an authorised reader of the path.
func (s *Server) streamFor(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, *gortsplib.ServerStream, error) {
	if s.cfg.User != "" && !conn.VerifyCredentials(req, s.cfg.User, s.cfg.Pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	if s.cfg.Path != "" && path != s.cfg.Path {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, fmt.Errorf("no stream at %q", path)
	}
	st := s.stream.Load()
	if st == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, fmt.Errorf("stream starting")
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (s *Server) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return s.streamFor(ctx.Conn, ctx.Request, ctx.Path)
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (s *Server) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return s.streamFor(ctx.Conn, ctx.Request, ctx.Path)
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (s *Server) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	s.mu.Lock()
	s.playConn = ctx.Conn
	s.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnResponse implements gortsplib.ServerHandlerOnResponse. The answer to the first successful PLAY
// closes Playing: by then the reader is active, so it receives the next packet written.
func (s *Server) OnResponse(conn *gortsplib.ServerConn, res *base.Response) {
	s.mu.Lock()
	isPlay := conn == s.playConn
	if isPlay {
		s.playConn = nil
	}
	s.mu.Unlock()
	if isPlay && res.StatusCode == base.StatusOK {
		s.playOnce.Do(func() { close(s.playing) })
	}
}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError: a reader's queue is full.
func (s *Server) OnStreamWriteError(*gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	s.dropped.Add(1)
}
