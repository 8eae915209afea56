package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// Options are what a Publisher needs besides its config.
type Options struct {
	// Labels are the model's labels: one binary sensor per camera and label.
	Labels []string
	// States returns the cameras' current states; the publisher polls it every StateInterval to
	// publish camera state and keep discovery in step with the camera set. It defaults to none.
	States func() []bus.CameraState
	// StateInterval is how often States is polled. It defaults to 2s.
	StateInterval time.Duration
	// Version is reported to Home Assistant as the devices' software version.
	Version string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the mvwatch_mqtt_* metrics. It defaults to none.
	Registerer prometheus.Registerer
}

// Publisher sends events and camera state to one broker. New builds it, Start connects (in the
// background: a broker that is down is retried, and publications wait in the bounded queue), Close
// announces "offline" and disconnects.
type Publisher struct {
	cfg    config.MQTT
	opts   Options
	prefix string
	log    *slog.Logger
	client paho.Client
	queue  *queue.Queue[message]
	m      *metrics

	mu      sync.Mutex
	cameras map[string]cameraView // last published per camera
	offAt   map[labelKey]time.Time

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type labelKey struct{ camera, label string }

type cameraView struct {
	phase  bus.CameraPhase
	reason string
}

type messageKind string

const (
	kindAvailability messageKind = "availability"
	kindDiscovery    messageKind = "discovery"
	kindEvent        messageKind = "event"
	kindLabelState   messageKind = "label_state"
	kindCameraState  messageKind = "camera_state"
	kindSnapshot     messageKind = "snapshot"
	// kindAnnounce asks the sender to publish availability and every discovery config (after each
	// connect, and when Home Assistant restarts).
	kindAnnounce messageKind = "announce"
)

var publishedKinds = []messageKind{kindAvailability, kindDiscovery, kindEvent, kindLabelState, kindCameraState, kindSnapshot}

type message struct {
	kind     messageKind
	topic    string
	payload  []byte
	retained bool
}

// publishTimeout bounds the wait for one publication's acknowledgement.
const publishTimeout = 10 * time.Second

// New checks cfg (config.Load has validated it) and builds the client; nothing is started.
func New(cfg config.MQTT, opts Options) (*Publisher, error) {
	if !cfg.Enabled() {
		return nil, errors.New("mqtt: no broker URL")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StateInterval <= 0 {
		opts.StateInterval = 2 * time.Second
	}
	p := &Publisher{cfg: cfg, opts: opts, prefix: cfg.TopicPrefix, log: opts.Logger.With("broker", redact.URL(cfg.URL)),
		cameras: map[string]cameraView{}, offAt: map[labelKey]time.Time{}}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p.m = m
	p.queue = queue.New[message](cfg.Queue, queue.Options{DropOldest: true, Drops: m.dropped})
	co, err := p.clientOptions()
	if err != nil {
		return nil, err
	}
	p.client = paho.NewClient(co)
	return p, nil
}

// clientOptions turns the config into paho's options: broker, credentials, TLS, last will, and
// reconnection (paho's own: it retries the first connection and every lost one, backing off to
// 10s).
func (p *Publisher) clientOptions() (*paho.ClientOptions, error) {
	u, err := url.Parse(p.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mqtt.url: not a valid URL")
	}
	scheme, port := "tcp", "1883"
	if p.cfg.TLS() {
		scheme, port = "ssl", "8883"
	}
	if u.Port() != "" {
		port = u.Port()
	}
	broker := scheme + "://" + hostPort(u.Hostname(), port)
	user, pass := p.cfg.Username, p.cfg.Password
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
		}
		if pw, ok := u.User.Password(); ok && pass == "" {
			pass = pw
		}
	}
	co := paho.NewClientOptions().AddBroker(broker).SetClientID(p.cfg.ClientID).
		SetUsername(user).SetPassword(pass).
		SetCleanSession(true).SetOrderMatters(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(2*time.Second).
		SetMaxReconnectInterval(10*time.Second).SetConnectTimeout(10*time.Second).SetKeepAlive(30*time.Second).
		SetWill(p.prefix+"/availability", offline, p.cfg.QoSLevel(), true).
		SetOnConnectHandler(p.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			p.m.connected.Set(0)
			p.log.Warn("mqtt connection lost", "err", redact.Error(err))
		})
	if p.cfg.TLS() {
		tc, err := p.tlsConfig(u.Hostname())
		if err != nil {
			return nil, err
		}
		co.SetTLSConfig(tc)
	}
	return co, nil
}

func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func (p *Publisher) tlsConfig(server string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: server}
	if p.cfg.CAFile != "" {
		pem, err := os.ReadFile(p.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.ca_file: no PEM certificate in %s", p.cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if p.cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(p.cfg.CertFile, p.cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// onConnect runs on paho's goroutine after every (re)connection: it must not block.
func (p *Publisher) onConnect(c paho.Client) {
	p.m.connected.Set(1)
	p.m.connections.Inc()
	p.log.Info("mqtt connected")
	p.queue.Push(message{kind: kindAnnounce})
	if p.cfg.DiscoveryOn() {
		// Home Assistant publishes "online" here when it (re)starts; it then needs the configs again.
		c.Subscribe(p.cfg.DiscoveryPrefix+"/status", 0, func(_ paho.Client, msg paho.Message) {
			if string(msg.Payload()) == online {
				p.queue.Push(message{kind: kindAnnounce})
			}
		})
	}
}

// Start connects in the background and starts the sender and the state poller. It returns at once.
func (p *Publisher) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	p.client.Connect() // with ConnectRetry, paho keeps trying in the background
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.send(ctx) }()
	go func() { defer p.wg.Done(); p.tick(ctx) }()
	return nil
}

// Close stops the poller and the sender, publishes "offline" (retained) and disconnects. Safe to call
// more than once, and without Start.
func (p *Publisher) Close() {
	p.closeOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
		if p.client.IsConnectionOpen() {
			p.client.Publish(p.prefix+"/availability", p.cfg.QoSLevel(), true, offline).WaitTimeout(2 * time.Second)
		}
		p.client.Disconnect(250)
		p.m.connected.Set(0)
	})
}

// PublishEvent sends a new event: its JSON on <prefix>/events, its label's binary sensor ON (OFF again
// off_delay after the camera's last event with that label ended) and its keyframe as the camera's
// snapshot. It never blocks.
func (p *Publisher) PublishEvent(ev event.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		p.log.Warn("mqtt: event not encodable", "event", ev.ID, "err", err)
		return
	}
	p.queue.Push(message{kind: kindEvent, topic: p.prefix + "/events", payload: b})
	if ev.NoAlert || (len(p.opts.Labels) > 0 && !slices.Contains(p.opts.Labels, ev.Label)) {
		// A zone's label rule keeps it from alerting, or the label (a zone event) has no sensor: the
		// event is on the events topic only.
		return
	}
	offAt := time.Now()
	if ev.End.After(offAt) {
		offAt = ev.End
	}
	offAt = offAt.Add(p.cfg.OffDelay.D())
	k := labelKey{ev.Camera, ev.Label}
	p.mu.Lock()
	_, wasOn := p.offAt[k]
	if offAt.After(p.offAt[k]) {
		p.offAt[k] = offAt
	}
	p.mu.Unlock()
	if !wasOn {
		p.queue.Push(message{kind: kindLabelState, topic: p.labelTopic(ev.Camera, ev.Label), payload: []byte(on), retained: true})
	}
	if len(ev.Keyframe) > 0 {
		p.queue.Push(message{kind: kindSnapshot, topic: p.cameraTopic(ev.Camera, "snapshot"), payload: ev.Keyframe, retained: true})
	}
}

// tick turns label sensors off when their time is up and publishes camera state changes.
func (p *Publisher) tick(ctx context.Context) {
	t := time.NewTicker(min(p.opts.StateInterval, 500*time.Millisecond))
	defer t.Stop()
	lastPoll := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.expire(now)
			if p.opts.States != nil && now.Sub(lastPoll) >= p.opts.StateInterval {
				lastPoll = now
				p.pollStates(p.opts.States())
			}
		}
	}
}

func (p *Publisher) expire(now time.Time) {
	p.mu.Lock()
	var due []labelKey
	for k, at := range p.offAt {
		if !now.Before(at) {
			due = append(due, k)
			delete(p.offAt, k)
		}
	}
	p.mu.Unlock()
	for _, k := range due {
		p.queue.Push(message{kind: kindLabelState, topic: p.labelTopic(k.camera, k.label), payload: []byte(off), retained: true})
	}
}

// cameraStatePayload is what <prefix>/<camera>/state carries.
type cameraStatePayload struct {
	Camera string    `json:"camera"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// pollStates publishes the state of every camera whose phase or reason changed, the discovery
// configs of new cameras, and clears those of removed ones.
func (p *Publisher) pollStates(states []bus.CameraState) {
	seen := map[string]bool{}
	var msgs []message
	p.mu.Lock()
	for _, s := range states {
		seen[s.Name] = true
		prev, known := p.cameras[s.Name]
		view := cameraView{phase: s.Phase, reason: redact.Text(s.Reason)}
		if known && prev == view {
			continue
		}
		p.cameras[s.Name] = view
		if !known && p.cfg.DiscoveryOn() {
			msgs = append(msgs, p.discoveryMessages(s.Name, false)...)
		}
		msgs = append(msgs, p.stateMessages(s.Name, view, s.Since)...)
	}
	for name := range p.cameras {
		if seen[name] {
			continue
		}
		delete(p.cameras, name)
		if p.cfg.DiscoveryOn() {
			msgs = append(msgs, p.discoveryMessages(name, true)...)
		}
		// Clear the removed camera's retained topics too, so no stale state outlives it.
		for _, leaf := range []string{"state", "connected", "snapshot"} {
			msgs = append(msgs, message{kind: kindCameraState, topic: p.cameraTopic(name, leaf), retained: true})
		}
		for _, l := range p.opts.Labels {
			msgs = append(msgs, message{kind: kindLabelState, topic: p.labelTopic(name, l), retained: true})
		}
	}
	p.mu.Unlock()
	for _, m := range msgs {
		p.queue.Push(m)
	}
}

func (p *Publisher) stateMessages(name string, v cameraView, since time.Time) []message {
	b, _ := json.Marshal(cameraStatePayload{Camera: name, State: string(v.phase), Reason: v.reason, Since: since})
	conn := off
	if v.phase == bus.PhaseRunning {
		conn = on
	}
	return []message{
		{kind: kindCameraState, topic: p.cameraTopic(name, "state"), payload: b, retained: true},
		{kind: kindCameraState, topic: p.cameraTopic(name, "connected"), payload: []byte(conn), retained: true},
	}
}

// announce returns availability, every known camera's discovery configs and its current state, in
// that order.
func (p *Publisher) announce() []message {
	msgs := []message{{kind: kindAvailability, topic: p.prefix + "/availability", payload: []byte(online), retained: true}}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.cameras {
		if p.cfg.DiscoveryOn() {
			msgs = append(msgs, p.discoveryMessages(name, false)...)
		}
	}
	return msgs
}

// send publishes queued messages one at a time while connected.
func (p *Publisher) send(ctx context.Context) {
	for {
		m, err := p.queue.Pop(ctx)
		if err != nil {
			return
		}
		batch := []message{m}
		if m.kind == kindAnnounce {
			batch = p.announce()
		}
		for _, m := range batch {
			if !p.waitConnected(ctx) {
				return
			}
			tok := p.client.Publish(m.topic, p.cfg.QoSLevel(), m.retained, m.payload)
			if !tok.WaitTimeout(publishTimeout) || tok.Error() != nil {
				p.m.errors.Inc()
				p.log.Warn("mqtt publish failed", "topic", m.topic, "err", redact.Error(tok.Error()))
				continue
			}
			p.m.published.WithLabelValues(string(m.kind)).Inc()
		}
	}
}

// waitConnected waits until the client is connected or ctx ends.
func (p *Publisher) waitConnected(ctx context.Context) bool {
	for !p.client.IsConnectionOpen() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}
