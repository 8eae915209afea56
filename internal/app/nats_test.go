package app

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/natsbus"
	"github.com/mvwatch/mvwatch/mvextract"
)

func natsConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.NATS.StoreDir = filepath.Join(t.TempDir(), "nats")
	cfg.NATS.Node = "n1"
	return cfg
}

func freeLoopback(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestOpenNATSBadInput: a role without NATS, an unreachable URL, refused credentials and an EVENTS
// stream made by someone else with other settings each fail at start, at once, with an error that
// says which and shows no credential.
func TestOpenNATSBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := quietLogger()

	_, err := openNATS(ctx, natsConfig(t), RoleWorker, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "needs NATS")

	cfg := natsConfig(t)
	cfg.NATS.URL = "nats://" + freeLoopback(t)
	cfg.NATS.Password, cfg.NATS.User = "pw-never-shown", "mv"
	start := time.Now()
	_, err = openNATS(ctx, cfg, RoleWorker, prometheus.NewRegistry(), log)
	require.ErrorIs(t, err, natsbus.ErrUnreachable)
	require.NotContains(t, err.Error(), "pw-never-shown")
	require.Less(t, time.Since(start), 10*time.Second)

	// An events node with an embedded server that wants a token.
	ev := natsConfig(t)
	ev.NATS.Listen, ev.NATS.Token = "127.0.0.1:0", "right-token"
	n, err := openNATS(ctx, ev, RoleEvents, prometheus.NewRegistry(), log)
	require.NoError(t, err)
	defer n.close()
	w := natsConfig(t)
	w.NATS.URL, w.NATS.Token = n.server.ClientURL(), "wrong-token"
	_, err = openNATS(ctx, w, RoleWorker, prometheus.NewRegistry(), log)
	require.ErrorIs(t, err, natsbus.ErrAuth)
	require.NotContains(t, err.Error(), "wrong-token")
	w.NATS.Token = "right-token"
	wn, err := openNATS(ctx, w, RoleWorker, prometheus.NewRegistry(), log)
	require.NoError(t, err)
	wn.close()

	// A server whose EVENTS stream someone made in memory, on other subjects.
	s, err := natsbus.StartServer(natsbus.ServerConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: log})
	require.NoError(t, err)
	defer s.Shutdown()
	c, err := natsbus.Connect(ctx, natsbus.ConnConfig{Server: s, Logger: log}, nil)
	require.NoError(t, err)
	_, err = c.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: natsbus.EventsStream, Subjects: []string{"other.>"},
		Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	c.Close()
	w = natsConfig(t)
	w.NATS.URL = s.ClientURL()
	start = time.Now()
	_, err = openNATS(ctx, w, RoleWorker, prometheus.NewRegistry(), log)
	require.ErrorIs(t, err, natsbus.ErrStreamConflict)
	require.ErrorContains(t, err, "storage")
	require.Less(t, time.Since(start), 10*time.Second, "no retry on a conflict")
}

// natsBusFor opens a bus of role on s (in-process), closed at the test's end after its App.
func natsBusFor(t *testing.T, s *natsbus.Server, role Role, node string) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := natsbus.Connect(ctx, natsbus.ConnConfig{Server: s, Logger: quietLogger()}, nil)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	b, err := natsbus.OpenBus(ctx, c, nil, natsbus.BusConfig{Node: node, Worker: role.worker(), Events: role.events(),
		KeepOnNATSLoss: true, Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(b.Close) // after the App's Close (cleanups run in reverse)
	return b
}

// TestRolesOverNATS: a worker App and an events App, each on its own NATS bus over one embedded
// server: the events node seeds its configured camera into the camera set, the worker leases and
// runs it, its events are stored (acknowledged after the write), the API shows the camera running
// on the worker's node, and a camera added through the events node's API runs on the worker. Then
// one App with both roles on one NATS bus does the same alone.
func TestRolesOverNATS(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	s, err := natsbus.StartServer(natsbus.ServerConfig{DataDir: t.TempDir(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown) // after the buses' cleanups
	features := mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}}

	ecfg := testConfig(t)
	ecfg.Webhooks = nil
	ecfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	events, err := New(Options{Config: ecfg, Role: RoleEvents, Bus: natsBusFor(t, s, RoleEvents, "events"),
		Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, events.Start())
	defer events.Close()
	worker, err := New(Options{Config: testConfig(t), Role: RoleWorker, Bus: natsBusFor(t, s, RoleWorker, "w1"),
		Classifier: &alternatingClassifier{}, Registry: prometheus.NewRegistry(), Logger: quietLogger(), Features: features})
	require.NoError(t, err)
	require.NoError(t, worker.Start())
	defer worker.Close()

	require.Eventually(t, func() bool { n, err := events.Store().Count(); return err == nil && n >= 2 }, 30*time.Second,
		20*time.Millisecond, "the worker's events stored by the event service")
	require.Eventually(t, func() bool {
		_, body := apiGet(t, events, "/api/v1/cameras/door/state", true)
		return strings.Contains(string(body), `"node":"w1"`) && strings.Contains(string(body), `"state":"running"`)
	}, 20*time.Second, 50*time.Millisecond, "the camera shown running on w1")
	code := apiDo(t, events, http.MethodPost, "/api/v1/cameras", `{"name":"yard","url":"`+cam.URL()+`"}`)
	require.Equal(t, http.StatusCreated, code)
	require.Eventually(t, func() bool { _, err := worker.Fleet().Get("yard"); return err == nil }, 20*time.Second,
		50*time.Millisecond, "the added camera runs on the worker")
	_, err = worker.ReloadFile(context.Background())
	require.Error(t, err, "a NATS worker's cameras come from the camera set")
	require.NoError(t, worker.Close())
	require.NoError(t, events.Close())

	// Both roles in one App over NATS (serve with nats.listen on a single node).
	s2, err := natsbus.StartServer(natsbus.ServerConfig{DataDir: t.TempDir(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(s2.Shutdown)
	bcfg := testConfig(t)
	bcfg.Webhooks = nil
	bcfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	both, err := New(Options{Config: bcfg, Bus: natsBusFor(t, s2, RoleBoth, "n1"), Classifier: &alternatingClassifier{},
		Registry: prometheus.NewRegistry(), Logger: quietLogger(), Features: features})
	require.NoError(t, err)
	require.NoError(t, both.Start())
	defer both.Close()
	require.Eventually(t, func() bool { n, err := both.Store().Count(); return err == nil && n >= 2 }, 30*time.Second,
		20*time.Millisecond, "events stored through the stream")
	require.NoError(t, both.Close())
}

// ackBus is a bus.AckBus fed by the test: each delivery's Done result comes back on done.
type ackBus struct {
	*bus.Local
	in   chan bus.Delivery
	done chan error
}

func (b *ackBus) NextDelivery(ctx context.Context) (bus.Delivery, error) {
	select {
	case d := <-b.in:
		return d, nil
	case <-ctx.Done():
		return bus.Delivery{}, ctx.Err()
	}
}

func (b *ackBus) deliver(ev event.Event, redelivered bool) error {
	b.in <- bus.Delivery{Event: ev, Redelivered: redelivered, Done: func(err error) { b.done <- err }}
	return <-b.done
}

// TestWriterAcksAfterStoreAndSkipsStoredRedelivery: on an AckBus the writer acknowledges an event
// after the store has it; a redelivery of a stored event is acknowledged without a second write, so
// the caption it got meanwhile stays; a redelivery the store lacks is stored.
func TestWriterAcksAfterStoreAndSkipsStoredRedelivery(t *testing.T) {
	b := &ackBus{Local: bus.NewLocal(bus.LocalOptions{}), in: make(chan bus.Delivery), done: make(chan error)}
	defer b.Close()
	cfg := testConfig(t)
	cfg.Webhooks = nil
	a, err := New(Options{Config: cfg, Role: RoleEvents, Bus: b, Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	defer a.Close()
	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	ev := event.Event{ID: event.NewEventID(t0), Camera: "door", Label: "person", Score: 0.9, Start: t0, End: t0.Add(time.Second)}
	require.NoError(t, b.deliver(ev, false))
	got, err := a.Store().Get(ev.ID)
	require.NoError(t, err, "stored before the acknowledgement")
	require.Equal(t, ev.Label, got.Label)
	_, err = a.Store().SetCaption(context.Background(), ev.ID, "a person at the door")
	require.NoError(t, err)

	require.NoError(t, b.deliver(ev, true), "a redelivery is acknowledged")
	got, err = a.Store().Get(ev.ID)
	require.NoError(t, err)
	require.Equal(t, "a person at the door", got.Caption, "not written again")
	n, err := a.Store().Count()
	require.NoError(t, err)
	require.Equal(t, 1, n)

	ev2 := ev
	ev2.ID = event.NewEventID(t0.Add(time.Second))
	require.NoError(t, b.deliver(ev2, true))
	n, err = a.Store().Count()
	require.NoError(t, err)
	require.Equal(t, 2, n, "a redelivery the store lacks is stored")

	bad := ev
	bad.ID = ""
	require.Error(t, b.deliver(bad, false), "a failed write is not acknowledged")
	require.NoError(t, a.Close())
}
