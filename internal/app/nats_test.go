package app

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/natsbus"
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
