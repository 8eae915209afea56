package natsbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// placement tracks what every node reports through OnChange and checks, at each report, that no
// camera is held by two nodes at once.
type placement struct {
	mu         sync.Mutex
	holder     map[string]string
	changes    int
	violations []string
}

func newPlacement() *placement { return &placement{holder: map[string]string{}} }

func (p *placement) onChange(node string) func([]string) {
	return func(owned []string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.changes++
		for c, h := range p.holder {
			if h == node && !slices.Contains(owned, c) {
				delete(p.holder, c)
			}
		}
		for _, c := range owned {
			if h := p.holder[c]; h != "" && h != node {
				p.violations = append(p.violations, fmt.Sprintf("%s held by %s and %s", c, h, node))
			}
			p.holder[c] = node
		}
	}
}

// counts returns how many cameras each node holds.
func (p *placement) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, h := range p.holder {
		out[h]++
	}
	return out
}

func (p *placement) changeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changes
}

type node struct {
	conn *Conn
	a    *Assigner
}

func startNode(t *testing.T, s *Server, id string, p *placement) *node {
	t.Helper()
	c, err := Connect(context.Background(), ConnConfig{Server: s, Name: id}, nil)
	require.NoError(t, err)
	ctx := ctxT(t, 10*time.Second)
	cams, err := OpenCameras(ctx, c, 1)
	require.NoError(t, err)
	leases, err := OpenLeases(ctx, c, 0, 1)
	require.NoError(t, err)
	a, err := StartAssigner(cams, leases, nil, AssignerConfig{Node: id, OnChange: p.onChange(id)})
	require.NoError(t, err)
	n := &node{conn: c, a: a}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n.a.Close(cctx)
		n.conn.Close()
	})
	return n
}

func TestAssignerTakeoverAndRebalance(t *testing.T) {
	s := startServer(t, ServerConfig{})
	admin := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 60*time.Second)
	cams, err := OpenCameras(ctx, admin, 1)
	require.NoError(t, err)
	const nCams = 9
	for i := range nCams {
		_, err := cams.Put(ctx, fmt.Sprintf("cam-%d", i), []byte(`{"url":"rtsp://x"}`))
		require.NoError(t, err)
	}
	p := newPlacement()
	start := time.Now()
	n1 := startNode(t, s, "n1", p)
	startNode(t, s, "n2", p)
	require.Eventually(t, func() bool {
		c := p.counts()
		return c["n1"]+c["n2"] == nCams && c["n1"] <= 5 && c["n2"] <= 5
	}, 15*time.Second, 20*time.Millisecond)
	t.Logf("two nodes hold %v after %v", p.counts(), time.Since(start).Round(time.Millisecond))

	joined := time.Now()
	startNode(t, s, "n3", p)
	require.Eventually(t, func() bool {
		c := p.counts()
		return c["n1"] == 3 && c["n2"] == 3 && c["n3"] == 3
	}, 15*time.Second, 20*time.Millisecond)
	t.Logf("a third node joined: %v after %v", p.counts(), time.Since(joined).Round(time.Millisecond))

	// Stable: nothing moves any more (no flapping).
	settled := p.changeCount()
	require.Never(t, func() bool { return p.changeCount() != settled }, 2*DefaultLeaseTTL, 50*time.Millisecond)

	leases, err := OpenLeases(ctx, admin, 0, 1)
	require.NoError(t, err)
	owners, err := leases.Owners(ctx)
	require.NoError(t, err)
	assert.Len(t, owners, nCams)
	nodes, err := leases.Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"n1", "n2", "n3"}, nodes)

	// n1 dies: its connection is gone, it cannot renew. It stops its cameras by itself before its
	// leases expire; the others take them over within TTL + two rounds.
	killed := time.Now()
	n1.conn.Close()
	require.Eventually(t, func() bool {
		c := p.counts()
		return c["n2"]+c["n3"] == nCams
	}, 10*time.Second, 20*time.Millisecond, "cameras of a dead node run again elsewhere within 10 s")
	took := time.Since(killed)
	t.Logf("n1 killed: its cameras moved in %v, now %v", took.Round(time.Millisecond), p.counts())
	assert.Less(t, took, 10*time.Second)
	assert.Zero(t, len(n1.a.Owned()), "the dead node stopped its cameras")

	p.mu.Lock()
	assert.Empty(t, p.violations, "no camera held by two nodes at once")
	p.mu.Unlock()
}

func TestAssignerCameraSetAndGracefulClose(t *testing.T) {
	s := startServer(t, ServerConfig{})
	admin := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 60*time.Second)
	cams, err := OpenCameras(ctx, admin, 1)
	require.NoError(t, err)
	for i := range 3 {
		_, err := cams.Put(ctx, fmt.Sprintf("cam-%d", i), []byte(`{}`))
		require.NoError(t, err)
	}
	p := newPlacement()
	n1 := startNode(t, s, "n1", p)
	require.Eventually(t, func() bool { return p.counts()["n1"] == 3 }, 10*time.Second, 20*time.Millisecond)

	_, err = cams.Put(ctx, "cam-new", []byte(`{}`))
	require.NoError(t, err)
	require.NoError(t, cams.Delete(ctx, "cam-0"))
	require.Eventually(t, func() bool { return slices.Equal(n1.a.Owned(), []string{"cam-1", "cam-2", "cam-new"}) },
		10*time.Second, 20*time.Millisecond, "added camera claimed, removed camera released")
	list, err := cams.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 3)

	// A second node waits with nothing while n1 holds everything within its share (ceil(3/2)=2:
	// n1 gives one up after the hysteresis).
	startNode(t, s, "n2", p)
	require.Eventually(t, func() bool { c := p.counts(); return c["n1"] == 2 && c["n2"] == 1 },
		15*time.Second, 20*time.Millisecond)
	// n1 leaves gracefully: its leases are deleted and n2 takes over without waiting for the TTL.
	left := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	n1.a.Close(cctx)
	cancel()
	require.Eventually(t, func() bool { return p.counts()["n2"] == 3 }, 10*time.Second, 20*time.Millisecond)
	took := time.Since(left)
	t.Logf("graceful leave: cameras moved in %v", took.Round(time.Millisecond))
	assert.Less(t, took, DefaultLeaseTTL, "taken over before the TTL")
	p.mu.Lock()
	assert.Empty(t, p.violations)
	p.mu.Unlock()
}

// Through a NATS outage longer than the TTL: by default the node stops its cameras before its
// leases can expire and claims them again once NATS is back; with KeepOnNATSLoss it keeps them
// running all along and takes its expired leases again without stopping anything.
func TestAssignerNATSOutage(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			dir, addr := t.TempDir(), freeAddr(t)
			cfg := ServerConfig{DataDir: dir, Listen: addr}
			s := startServer(t, cfg)
			c := connect(t, ConnConfig{URL: "nats://" + addr, ReconnectWait: 50 * time.Millisecond}, nil)
			ctx := ctxT(t, 60*time.Second)
			cams, err := OpenCameras(ctx, c, 1)
			require.NoError(t, err)
			for i := range 3 {
				_, err := cams.Put(ctx, fmt.Sprintf("cam-%d", i), []byte(`{}`))
				require.NoError(t, err)
			}
			const ttl = 1500 * time.Millisecond
			leases, err := OpenLeases(ctx, c, ttl, 1)
			require.NoError(t, err)
			require.Equal(t, ttl, leases.TTL())
			p := newPlacement()
			a, err := StartAssigner(cams, leases, nil, AssignerConfig{Node: "n1", OnChange: p.onChange("n1"),
				KeepOnNATSLoss: keep})
			require.NoError(t, err)
			defer a.Close(ctx)
			require.Eventually(t, func() bool { return len(a.Owned()) == 3 }, 10*time.Second, 20*time.Millisecond)
			before := p.changeCount()

			s.Shutdown()
			if keep {
				require.Never(t, func() bool { return len(a.Owned()) != 3 }, 3*ttl, 20*time.Millisecond,
					"cameras keep running while NATS is away")
			} else {
				require.Eventually(t, func() bool { return len(a.Owned()) == 0 }, ttl, 20*time.Millisecond,
					"cameras stopped within the TTL")
				time.Sleep(2 * ttl) // the leases have expired by now
			}
			startServer(t, cfg)
			owners := map[string]string{}
			require.Eventually(t, func() bool {
				owners, err = leases.Owners(ctx)
				return err == nil && len(owners) == 3 && len(a.Owned()) == 3
			}, 15*time.Second, 50*time.Millisecond)
			assert.Equal(t, map[string]string{"cam-0": "n1", "cam-1": "n1", "cam-2": "n1"}, owners)
			if keep {
				assert.Equal(t, before, p.changeCount(), "nothing stopped or restarted")
			}
		})
	}
}
