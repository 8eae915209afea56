package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outageRun publishes events continuously through url while stop and start take the server down
// and up again (same store), then checks that every event the publisher accepted reached the
// consumer (the "store") and the stream exactly once, and that nothing was dropped. The consumer may
// see a message twice (its acknowledgements of the last moments before a kill -9 may not have
// reached the server's disk): the store deduplicates by id, as the recorder does.
func outageRun(t *testing.T, url string, user, pass string, stop, start func()) {
	outageRunCfg(t, ConnConfig{URL: url, User: user, Password: pass}, StreamsConfig{},
		func(*Conn) { stop() }, start, true)
}

// outageRunCfg is outageRun with a connection and streams config; stop gets the publisher's
// connection (to stop the server it is connected to); waitDown waits for the disconnection (not in
// a cluster, where the client moves to another server at once).
func outageRunCfg(t *testing.T, cc ConnConfig, sc StreamsConfig, stop func(*Conn), start func(), waitDown bool) {
	m, err := NewMetrics(nil, "store")
	require.NoError(t, err)
	cc.ReconnectWait = 50 * time.Millisecond
	c := connect(t, cc, m)
	ctx := ctxT(t, 90*time.Second)
	require.Eventually(t, func() bool {
		err = EnsureStreams(ctx, c.JetStream(), sc)
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "streams: %v", err)
	p, err := NewPublisher(c, m, PublisherConfig{AckTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	rec := newRecorder()
	k, err := StartConsumer(ctx, c, m, ConsumerConfig{Stream: EventsStream, Durable: "store",
		AckWait: 2 * time.Second, Handler: rec.handle})
	require.NoError(t, err)

	var mu sync.Mutex
	var accepted []string
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-time.After(time.Millisecond):
			}
			id := fmt.Sprintf("ev-%06d", i)
			if p.PublishEvent("cam-"+itoa(i%4), id, []byte(`{"id":"`+id+`"}`)) {
				mu.Lock()
				accepted = append(accepted, id)
				mu.Unlock()
			}
		}
	}()
	require.Eventually(t, func() bool { return rec.unique() > 200 }, 20*time.Second, 10*time.Millisecond)
	stop(c)
	if waitDown {
		require.Eventually(t, func() bool { return testutil.ToFloat64(m.connected) == 0 }, 10*time.Second, 10*time.Millisecond)
	}
	down := time.Now()
	time.Sleep(time.Second) // the outage: the publisher keeps accepting into its buffer
	buffered := p.Buffered()
	start()
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.connected) == 1 }, 20*time.Second, 10*time.Millisecond)
	t.Logf("outage %v, %d messages buffered at restart", time.Since(down).Round(time.Millisecond), buffered)
	before := rec.unique()
	require.Eventually(t, func() bool { return rec.unique() > before+200 }, 20*time.Second, 10*time.Millisecond,
		"events flow again after the restart")
	close(quit)
	wg.Wait()
	require.NoError(t, p.Close(ctx))
	mu.Lock()
	defer mu.Unlock()
	require.Eventually(t, func() bool { return rec.unique() == len(accepted) }, 20*time.Second, 10*time.Millisecond)
	k.Close()
	for _, id := range accepted {
		require.Equal(t, 1, min(rec.count(id), 1), "accepted event %s reached the store", id)
	}
	for _, r := range []string{DropFull, DropRefused, DropClosed} {
		assert.Zero(t, testutil.ToFloat64(m.dropped.WithLabelValues(r)), r)
	}
	st, err := c.JetStream().Stream(ctx, EventsStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, len(accepted), info.State.Msgs, "each accepted event stored exactly once")
	t.Logf("%d events accepted and stored once; %d retries, %d stream duplicates, %d redeliveries, %d handled",
		len(accepted), int(testutil.ToFloat64(m.retries)), int(testutil.ToFloat64(m.duplicates)),
		int(testutil.ToFloat64(m.redelivered.WithLabelValues("store"))), rec.total)
	assert.Greater(t, testutil.ToFloat64(m.reconnects), 0.0)
}

func TestClusterOfThreeEmbeddedServers(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers")
	}
	routes := []string{"nats-route://" + freeAddr(t), "nats-route://" + freeAddr(t), "nats-route://" + freeAddr(t)}
	cfgs := make([]ServerConfig, 3)
	servers := make([]*Server, 3)
	var urls []string
	for i := range cfgs {
		cfgs[i] = ServerConfig{DataDir: t.TempDir(), Name: "s" + itoa(i), Listen: freeAddr(t),
			ClusterName: "mvwatch-test", ClusterListen: strings.TrimPrefix(routes[i], "nats-route://"), Routes: routes,
			User: "mv", Password: "cluster-pw", Logger: slog.New(slog.DiscardHandler)}
		urls = append(urls, "nats://"+cfgs[i].Listen)
	}
	var wg sync.WaitGroup
	for i := range cfgs { // together: each waits for the others' routes
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := StartServer(cfgs[i])
			if err == nil {
				servers[i] = s
			}
		}()
	}
	wg.Wait()
	for i, s := range servers {
		require.NotNil(t, s, "server %d", i)
		t.Cleanup(func() { servers[i].Shutdown() })
	}
	start := time.Now()
	for _, s := range servers {
		require.NoError(t, s.WaitJetStream(ctxT(t, 30*time.Second)))
	}
	t.Logf("cluster JetStream ready in %v", time.Since(start).Round(time.Millisecond))
	var stopped int
	outageRunCfg(t, ConnConfig{URL: strings.Join(urls, ","), User: "mv", Password: "cluster-pw"},
		StreamsConfig{Replicas: 3},
		func(c *Conn) {
			name := c.NATS().ConnectedServerName()
			for i, s := range servers {
				if s.Name() == name {
					stopped = i
				}
			}
			t.Logf("stopping %s, the server the publisher is connected to", name)
			servers[stopped].Shutdown()
		},
		func() {
			s, err := StartServer(cfgs[stopped])
			require.NoError(t, err)
			servers[stopped] = s
		}, false)
}

func TestOutageEmbeddedRestart(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := ServerConfig{DataDir: dir, Listen: addr}
	s := startServer(t, cfg)
	outageRun(t, "nats://"+addr, "", "", s.Shutdown, func() { s = startServer(t, cfg) })
}

// buildNATSServer builds the real standalone nats-server from the module in go.mod (offline, from
// the module cache) into a temporary directory.
func buildNATSServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds nats-server")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build nats-server")
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build nats-server: %s", out)
	return bin
}

// natsProc is a standalone nats-server process.
type natsProc struct {
	t    *testing.T
	bin  string
	args []string
	cmd  *exec.Cmd
	url  string
}

func (p *natsProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	out, err := os.Create(filepath.Join(p.t.TempDir(), "nats-server.log"))
	require.NoError(p.t, err)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	require.NoError(p.t, p.cmd.Start())
	cmd := p.cmd
	p.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = out.Close()
	})
}

// kill9 kills the server process with SIGKILL, no shutdown.
func (p *natsProc) kill9() {
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

func TestStandaloneServerKill9(t *testing.T) {
	bin := buildNATSServer(t)
	addr := freeAddr(t)
	host, port := splitHostPortT(t, addr)
	proc := &natsProc{t: t, bin: bin, url: "nats://" + addr, args: []string{"-a", host, "-p", port, "-js",
		"-sd", t.TempDir(), "--user", "mv", "--pass", "proc-s3cret", "-n", "standalone"}}
	proc.start()
	require.Eventually(t, func() bool {
		c, err := Connect(context.Background(), ConnConfig{URL: proc.url, User: "mv", Password: "proc-s3cret",
			ConnectTimeout: time.Second}, nil)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "standalone nats-server up")

	_, err := Connect(context.Background(), ConnConfig{URL: proc.url, User: "mv", Password: "nope"}, nil)
	require.ErrorIs(t, err, ErrAuth)

	// A server without JetStream: a clear error at start.
	noJS := freeAddr(t)
	h2, p2 := splitHostPortT(t, noJS)
	plain := &natsProc{t: t, bin: bin, args: []string{"-a", h2, "-p", p2}}
	plain.start()
	require.Eventually(t, func() bool {
		_, err = Connect(context.Background(), ConnConfig{URL: "nats://" + noJS, ConnectTimeout: time.Second}, nil)
		return err != nil && strings.Contains(err.Error(), "JetStream")
	}, 20*time.Second, 100*time.Millisecond)
	t.Log(err)

	outageRun(t, proc.url, "mv", "proc-s3cret", proc.kill9, proc.start)
}

func splitHostPortT(t *testing.T, addr string) (string, string) {
	host, port, err := splitListen(addr)
	require.NoError(t, err)
	return host, itoa(port)
}
