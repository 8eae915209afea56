package app

import (
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/mvextract"
)

// TestServiceToMQTT runs the whole service against an embedded MQTT broker: the test camera's events
// arrive on mvwatch/events as the API's event objects, the camera shows as connected, and Home
// Assistant discovery names the camera's labels.
func TestServiceToMQTT(t *testing.T) {
	srv := mochi.New(&mochi.Options{InlineClient: true})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	require.NoError(t, srv.AddListener(l))
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { _ = srv.Close() })

	var mu sync.Mutex
	got := map[string][]string{}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + l.Address()).SetClientID("check"))
	tok := sub.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { sub.Disconnect(100) })
	sub.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got[m.Topic()] = append(got[m.Topic()], string(m.Payload()))
		mu.Unlock()
	}).Wait()
	seen := func(topic string) []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got[topic]...) }

	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "ev.db")
	off := false
	cfg.Gate.Enabled = &off
	cfg.MQTT.URL = "mqtt://" + l.Address()
	cfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	svc, err := New(Options{Config: cfg, Classifier: &alternatingClassifier{},
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: quietLogger(), Labels: []string{"object_left", "pan"}})
	require.NoError(t, err)
	require.NoError(t, svc.Start())

	eventually(t, 30*time.Second, func() bool { return len(seen("mvwatch/events")) > 0 }, "an event on mvwatch/events")
	var ev event.Event
	require.NoError(t, json.Unmarshal([]byte(seen("mvwatch/events")[0]), &ev))
	require.Equal(t, "door", ev.Camera)
	stored, err := svc.Store().Get(ev.ID)
	require.NoError(t, err, "the MQTT event is a stored event")
	require.Equal(t, stored.Label, ev.Label)
	eventually(t, 10*time.Second, func() bool { s := seen("mvwatch/door/connected"); return len(s) > 0 && s[len(s)-1] == "ON" }, "door connected")
	require.NotEmpty(t, seen("homeassistant/binary_sensor/mvwatch_door_object_left/config"))
	require.NotEmpty(t, seen("mvwatch/door/"+ev.Label))

	require.NoError(t, svc.Close())
	eventually(t, 10*time.Second, func() bool { s := seen("mvwatch/availability"); return len(s) > 0 && s[len(s)-1] == "offline" }, "offline after Close")
}
