package mqtt

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
)

// broker is an embedded mochi-mqtt broker on a loopback port; users, when given, must authenticate.
func broker(t *testing.T, addr string, users map[string]string) (*mochi.Server, string) {
	t.Helper()
	s := mochi.New(&mochi.Options{InlineClient: true})
	if users == nil {
		require.NoError(t, s.AddHook(new(auth.AllowHook), nil))
	} else {
		ledger := &auth.Ledger{Auth: auth.AuthRules{}}
		for u, pw := range users {
			ledger.Auth = append(ledger.Auth, auth.AuthRule{Username: auth.RString(u), Password: auth.RString(pw), Allow: true})
		}
		require.NoError(t, s.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}))
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	require.NoError(t, s.AddListener(l))
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Close() })
	return s, l.Address()
}

// recorder is an independent MQTT client subscribed to everything; it keeps every message by topic.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][]paho.Message
	c    paho.Client
}

func record(t *testing.T, addr, user, pass string) *recorder {
	t.Helper()
	r := &recorder{msgs: map[string][]paho.Message{}}
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("recorder").SetUsername(user).SetPassword(pass)
	r.c = paho.NewClient(o)
	tok := r.c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	tok = r.c.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		r.mu.Lock()
		r.msgs[m.Topic()] = append(r.msgs[m.Topic()], m)
		r.mu.Unlock()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { r.c.Disconnect(100) })
	return r
}

// last returns the latest payload on topic and whether there was one.
func (r *recorder) last(topic string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs[topic]
	if len(m) == 0 {
		return "", false
	}
	return string(m[len(m)-1].Payload()), true
}

func (r *recorder) count(topic string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs[topic])
}

func (r *recorder) all() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for k, ms := range r.msgs {
		for _, m := range ms {
			out[k] = append(out[k], string(m.Payload()))
		}
	}
	return out
}

func (r *recorder) eventually(t *testing.T, topic, want string) {
	t.Helper()
	require.Eventually(t, func() bool { got, ok := r.last(topic); return ok && got == want }, 10*time.Second, 20*time.Millisecond,
		"topic %s never became %q (seen: %v)", topic, want, r.all()[topic])
}

func mqttConfig(url string) config.MQTT {
	c := config.Default().MQTT
	c.URL = url
	c.OffDelay = config.Duration(time.Second)
	return c
}

// fleet is a mutable camera set for the publisher's States poll.
type fleet struct {
	mu     sync.Mutex
	states []bus.CameraState
}

func (f *fleet) set(s ...bus.CameraState) { f.mu.Lock(); f.states = s; f.mu.Unlock() }
func (f *fleet) get() []bus.CameraState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.states)
}

var labels = []string{"object_right", "zoom"}

func newPublisher(t *testing.T, cfg config.MQTT, f *fleet, reg prometheus.Registerer) *Publisher {
	t.Helper()
	p, err := New(cfg, Options{Labels: labels, States: f.get, StateInterval: 50 * time.Millisecond, Version: "test", Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func TestPublishesStateEventsAndDiscovery(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // registered first, so it runs after the other cleanups
	_, addr := broker(t, "", nil)
	rec := record(t, addr, "", "")
	f := &fleet{}
	since := time.Now().UTC().Truncate(time.Second)
	f.set(bus.CameraState{Name: "door", Phase: bus.PhaseRunning, Since: since},
		bus.CameraState{Name: "yard", Phase: bus.PhaseReconnecting, Since: since,
			Reason: "dial rtsp://admin:hunter2@10.0.0.9:554/s?token=s3cret: connection refused"})
	reg := prometheus.NewPedanticRegistry()
	p := newPublisher(t, mqttConfig("mqtt://"+addr), f, reg)
	require.NoError(t, p.Start(t.Context()))

	rec.eventually(t, "mvwatch/availability", "online")
	rec.eventually(t, "mvwatch/door/connected", "ON")
	rec.eventually(t, "mvwatch/yard/connected", "OFF")
	require.Eventually(t, func() bool { return rec.count("homeassistant/camera/mvwatch_yard_snapshot/config") > 0 }, 10*time.Second, 20*time.Millisecond)
	st, _ := rec.last("mvwatch/yard/state")
	var state cameraStatePayload
	require.NoError(t, json.Unmarshal([]byte(st), &state))
	require.Equal(t, "reconnecting", state.State)
	require.True(t, state.Since.Equal(since))
	require.Contains(t, state.Reason, "connection refused")

	// An event: JSON on the events topic, its label ON, the keyframe as the snapshot; OFF after off_delay.
	jpeg := []byte("\xff\xd8\xff\xe0 a keyframe")
	ev := event.Event{ID: event.NewEventID(time.Now()), Camera: "door", Label: "object_right", Score: 0.9,
		Start: time.Now().Add(-2 * time.Second), End: time.Now(), Keyframe: jpeg}
	p.PublishEvent(ev)
	rec.eventually(t, "mvwatch/door/object_right", "ON")
	rec.eventually(t, "mvwatch/door/snapshot", string(jpeg))
	got, _ := rec.last("mvwatch/events")
	var back event.Event
	require.NoError(t, json.Unmarshal([]byte(got), &back))
	require.Equal(t, ev.ID, back.ID)
	require.Equal(t, "object_right", back.Label)
	onAt := time.Now()
	rec.eventually(t, "mvwatch/door/object_right", "OFF")
	require.GreaterOrEqual(t, time.Since(onAt), 500*time.Millisecond, "OFF came before off_delay")
	require.Equal(t, 2, rec.count("mvwatch/door/object_right"), "one ON, one OFF")

	// An event a zone keeps from alerting, and a zone event, reach the events topic only.
	p.PublishEvent(event.Event{ID: "quiet", Camera: "door", Label: "zoom", End: time.Now(), NoAlert: true})
	p.PublishEvent(event.Event{ID: "enter", Camera: "door", Label: "zone_enter", End: time.Now()})
	require.Eventually(t, func() bool { return rec.count("mvwatch/events") >= 3 }, 10*time.Second, 20*time.Millisecond)
	require.Zero(t, rec.count("mvwatch/door/zoom"))
	require.Zero(t, rec.count("mvwatch/door/zone_enter"))

	// No secret anywhere in what was published.
	for topic, payloads := range rec.all() {
		for _, pl := range payloads {
			require.NotContains(t, pl, "hunter2", topic)
			require.NotContains(t, pl, "s3cret", topic)
		}
	}

	// Home Assistant restarts: it announces itself and gets the configs again.
	before := rec.count("homeassistant/binary_sensor/mvwatch_door_zoom/config")
	rec.c.Publish("homeassistant/status", 0, false, "online").Wait()
	require.Eventually(t, func() bool { return rec.count("homeassistant/binary_sensor/mvwatch_door_zoom/config") > before },
		10*time.Second, 20*time.Millisecond)

	// A removed camera's entities are cleared with empty retained payloads.
	f.set(bus.CameraState{Name: "door", Phase: bus.PhaseRunning, Since: since})
	rec.eventually(t, "homeassistant/camera/mvwatch_yard_snapshot/config", "")
	rec.eventually(t, "mvwatch/yard/state", "")

	require.Equal(t, 1.0, testutil.ToFloat64(p.m.connected))
	require.Positive(t, testutil.ToFloat64(p.m.published.WithLabelValues("discovery")))
	p.Close()
	rec.eventually(t, "mvwatch/availability", "offline")
	require.Equal(t, 0.0, testutil.ToFloat64(p.m.connected))
}

// TestMetricsFromStart checks every mvwatch_mqtt_* series exists at zero before anything happens.
func TestMetricsFromStart(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	_, err := New(mqttConfig("mqtt://127.0.0.1:1"), Options{Registerer: reg})
	require.NoError(t, err)
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Equal(t, 4+len(publishedKinds), n)
	for _, name := range []string{"mvwatch_mqtt_messages_published_total", "mvwatch_mqtt_messages_dropped_total",
		"mvwatch_mqtt_publish_errors_total", "mvwatch_mqtt_connected", "mvwatch_mqtt_connections_total"} {
		c, err := testutil.GatherAndCount(reg, name)
		require.NoError(t, err)
		require.Positive(t, c, name)
	}
}

// TestLastWillAndReconnect cuts the publisher's TCP connection (a proxy between it and the broker drops
// every connection, as a crash or a cut cable would): the broker publishes the last will ("offline"),
// paho reconnects by itself and the publisher announces "online" again.
func TestLastWillAndReconnect(t *testing.T) {
	_, addr := broker(t, "", nil)
	rec := record(t, addr, "", "")
	px := newCutProxy(t, addr)
	p := newPublisher(t, mqttConfig("mqtt://"+px.addr()), &fleet{}, nil)
	require.NoError(t, p.Start(t.Context()))
	rec.eventually(t, "mvwatch/availability", "online")
	px.cut()
	// paho reconnects within milliseconds, so look at the sequence rather than the latest value.
	require.Eventually(t, func() bool {
		return slices.Equal(rec.all()["mvwatch/availability"], []string{"online", "offline", "online"})
	}, 10*time.Second, 20*time.Millisecond, "availability: %v", rec.all()["mvwatch/availability"])
	require.GreaterOrEqual(t, testutil.ToFloat64(p.m.connections), 2.0)
}

// cutProxy forwards TCP connections to a target; cut closes every open one.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestBrokerLaterAndCredentials starts the publisher before its broker exists, with credentials from the
// URL: nothing is lost of what was published meanwhile (within the queue), and a wrong password never
// connects.
func TestBrokerLaterAndCredentials(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	p := newPublisher(t, mqttConfig("mqtt://cam:right@"+addr), &fleet{}, nil)
	require.NoError(t, p.Start(t.Context()))
	p.PublishEvent(event.Event{ID: "e1", Camera: "door", Label: "zoom", End: time.Now()})

	bad := mqttConfig("mqtt://" + addr)
	bad.ClientID, bad.Username, bad.Password = "intruder", "cam", "wrong"
	pb, err := New(bad, Options{})
	require.NoError(t, err)
	t.Cleanup(pb.Close)
	require.NoError(t, pb.Start(t.Context()))

	_, _ = broker(t, addr, map[string]string{"cam": "right", "recorder": "r"})
	rec := record(t, addr, "recorder", "r")
	rec.eventually(t, "mvwatch/availability", "online") // retained, so seen even if published before we subscribed
	require.Eventually(t, func() bool { _, ok := rec.last("mvwatch/door/zoom"); return ok }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, testutil.ToFloat64(p.m.connected))
	require.Equal(t, 0.0, testutil.ToFloat64(pb.m.connected), "a wrong password connected")
}

// TestDiscoveryMatchesHomeAssistantSchema checks every discovery config against the keys Home
// Assistant documents for its platform (testdata/ha_mqtt_schema.json): only documented keys, the
// required ones present, a documented device class, and a topic Home Assistant's discovery matches.
func TestDiscoveryMatchesHomeAssistantSchema(t *testing.T) {
	b, err := os.ReadFile("testdata/ha_mqtt_schema.json")
	require.NoError(t, err)
	var schema struct {
		TopicPattern string   `json:"topic_pattern"`
		DeviceKeys   []string `json:"device_keys"`
		Platforms    map[string]struct {
			Required      []string `json:"required"`
			Keys          []string `json:"keys"`
			DeviceClasses []string `json:"device_classes"`
		} `json:"platforms"`
	}
	require.NoError(t, json.Unmarshal(b, &schema))
	topicRE := regexp.MustCompile(schema.TopicPattern)
	p, err := New(mqttConfig("mqtt://127.0.0.1:1"), Options{Labels: []string{"object_right", "person at door/gate #2"}})
	require.NoError(t, err)
	msgs := p.discoveryMessages("front-door_1", false)
	require.Len(t, msgs, 2+2) // two labels, connectivity, camera
	ids := map[string]bool{}
	for _, m := range msgs {
		require.Regexp(t, topicRE, m.topic)
		require.True(t, m.retained)
		component := strings.Split(m.topic, "/")[1]
		plat, ok := schema.Platforms[component]
		require.True(t, ok, component)
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(m.payload, &cfg))
		for k := range cfg {
			require.Contains(t, plat.Keys, k, "%s: undocumented key %q", m.topic, k)
		}
		for _, k := range plat.Required {
			require.Contains(t, cfg, k, "%s: required key missing", m.topic)
		}
		if dc, ok := cfg["device_class"]; ok {
			require.Contains(t, plat.DeviceClasses, dc)
		}
		dev := cfg["device"].(map[string]any)
		for k := range dev {
			require.Contains(t, schema.DeviceKeys, k)
		}
		id := cfg["unique_id"].(string)
		require.False(t, ids[id], "duplicate unique_id %s", id)
		ids[id] = true
		for _, k := range []string{"state_topic", "topic", "availability_topic"} {
			if v, ok := cfg[k].(string); ok {
				require.NotContains(t, v, "+")
				require.NotContains(t, v, "#")
				require.Len(t, strings.Split(v, "/"), map[string]int{"availability_topic": 2}[k]+3*boolInt(k != "availability_topic"))
			}
		}
	}
	clear := p.discoveryMessages("front-door_1", true)
	require.Len(t, clear, len(msgs))
	for _, m := range clear {
		require.Empty(t, m.payload)
		require.True(t, m.retained)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
