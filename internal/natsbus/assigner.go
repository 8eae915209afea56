package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mvwatch/mvwatch/internal/redact"
)

// DefaultLeaseTTL is the lease TTL of a new lease bucket: a dead node's cameras run again elsewhere
// within TTL + 2 renewal periods (TTL/3 each), about 8.3 s.
const DefaultLeaseTTL = 5 * time.Second

// Leases is the lease bucket (LeasesBucket). Its TTL is the bucket's: every key expires TTL after
// its last write.
type Leases struct {
	kv  jetstream.KeyValue
	ttl time.Duration
}

// OpenLeases opens the lease bucket, creating it with ttl (0: DefaultLeaseTTL) when missing. An
// existing bucket keeps its TTL (all nodes must agree on one); Leases.TTL reports it.
func OpenLeases(ctx context.Context, c *Conn, ttl time.Duration, replicas int) (*Leases, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	kv, err := openBucket(ctx, c.js, jetstream.KeyValueConfig{Bucket: LeasesBucket,
		Description: "mvwatch camera leases (cam.<camera> -> owner node) and node heartbeats (node.<node>)",
		History:     1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: max(replicas, 1)})
	if err != nil {
		return nil, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsbus: bucket %s status: %w", LeasesBucket, err)
	}
	if st.TTL() <= 0 {
		return nil, fmt.Errorf("natsbus: bucket %s exists without a TTL (created outside mvwatch?): leases would never expire; delete it", LeasesBucket)
	}
	return &Leases{kv: kv, ttl: st.TTL()}, nil
}

// TTL returns the lease TTL.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Lease is the value of a camera lease or a node heartbeat.
type Lease struct {
	// Node is the owner (or the heartbeating node).
	Node string `json:"node"`
	// Cameras is, in a heartbeat, how many cameras the node holds.
	Cameras int `json:"cameras,omitempty"`
}

// Owners returns the owner node of every leased camera (fleet-wide camera placement for the API).
func (l *Leases) Owners(ctx context.Context) (map[string]string, error) {
	keys, err := listKeys(ctx, l.kv, "cam.*")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		e, err := l.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("natsbus: lease %s: %w", k, err)
		}
		var v Lease
		if json.Unmarshal(e.Value(), &v) == nil {
			out[strings.TrimPrefix(k, "cam.")] = v.Node
		}
	}
	return out, nil
}

// Owner returns the node holding camera's lease, "" when none does.
func (l *Leases) Owner(ctx context.Context, camera string) (string, error) {
	e, err := l.kv.Get(ctx, "cam."+camera)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("natsbus: lease of %s: %w", camera, err)
	}
	var v Lease
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return "", fmt.Errorf("natsbus: lease of %s: %w", camera, err)
	}
	return v.Node, nil
}

// Nodes returns the worker nodes with a live heartbeat.
func (l *Leases) Nodes(ctx context.Context) ([]string, error) {
	keys, err := listKeys(ctx, l.kv, "node.*")
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, "node.")
	}
	sort.Strings(keys)
	return keys, nil
}

// AssignerConfig configures an Assigner.
type AssignerConfig struct {
	// Node is this worker node's id, unique in the fleet (1 to 64 of [A-Za-z0-9_-]).
	Node string
	// OnChange receives the full sorted set of cameras this node now holds, each time it changes
	// (called from the assigner's goroutine, never concurrently). It must start the cameras added
	// and stop the cameras removed before returning: a released camera's lease is given up only
	// after OnChange returned. Required.
	OnChange func(owned []string)
	// Hysteresis is how many consecutive rounds (TTL/3 each) a node must hold more than its fair
	// share before it releases the excess, so that a heartbeat missed once moves nothing. It
	// defaults to 2.
	Hysteresis int
	// KeepOnNATSLoss keeps running the cameras while their leases cannot be renewed (NATS slow or
	// away), instead of stopping each 0.9·TTL after its last renewal. Detection then goes on
	// through a NATS outage (events wait in the publisher's buffer), at a price: a node cut off
	// from NATS while the others still reach it keeps cameras that they take over after the TTL,
	// so a camera may run on two nodes until the partition heals (then this node sees the lease
	// taken and stops it). False (the default): never two holders at once.
	KeepOnNATSLoss bool
	// Logger receives claims, releases and losses. It defaults to slog.Default().
	Logger *slog.Logger
}

// Assigner holds this node's camera leases. Every TTL/3 it writes the node's heartbeat, renews its
// leases (compare-and-swap on each lease's revision), then looks at the camera set and the live
// nodes: it claims free cameras (no lease, or an expired one) up to its fair share,
// ceil(cameras / live nodes), preferring the cameras that rank highest for it (rendezvous hashing,
// so nodes rarely race for the same one), and, when it has held more than its share for Hysteresis
// rounds (a node joined), releases the excess. Its first round only writes the heartbeat, so that
// nodes started together see each other before they claim. Cameras removed from the set are
// released at once.
//
// A lease not renewed expires TTL after its last renewal, so a dead node's cameras are claimed by
// the others within about TTL + 2·TTL/3. A node that cannot renew (NATS lost) drops a camera at the
// latest 0.9·TTL after the renewal request that last succeeded, before the server can expire the
// lease, so no camera is held by two nodes at once (unless KeepOnNATSLoss). A lease that expired
// while this node still held the camera (NATS away) is taken again on the next round if free.
type Assigner struct {
	cfg    AssignerConfig
	leases *Leases
	cams   *Cameras
	m      *Metrics
	log    *slog.Logger
	period time.Duration

	mu    sync.Mutex
	owned map[string]*held // camera -> lease; written by the run goroutine only

	over   int // consecutive rounds above the fair share
	rounds int // rounds done
	cancel context.CancelFunc
	done   chan struct{}
}

// held is one lease this node holds.
type held struct {
	rev      uint64
	deadline time.Time // drop the camera after this unless renewed
}

// StartAssigner starts the assigner of node cfg.Node over the camera set and the lease bucket. m may
// be nil.
func StartAssigner(cams *Cameras, leases *Leases, m *Metrics, cfg AssignerConfig) (*Assigner, error) {
	if !validName(cfg.Node) {
		return nil, fmt.Errorf("natsbus: node id %q is not 1..64 of [A-Za-z0-9_-]", cfg.Node)
	}
	if cfg.OnChange == nil {
		return nil, errors.New("natsbus: assigner needs an OnChange")
	}
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	if cfg.Hysteresis <= 0 {
		cfg.Hysteresis = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Assigner{cfg: cfg, leases: leases, cams: cams, m: m, period: leases.ttl / 3,
		log: cfg.Logger.With("component", "assigner", "node", cfg.Node), owned: map[string]*held{},
		cancel: cancel, done: make(chan struct{})}
	go a.run(ctx)
	return a, nil
}

// Owned returns the sorted cameras this node holds now.
func (a *Assigner) Owned() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ownedLocked()
}

func (a *Assigner) ownedLocked() []string {
	out := make([]string, 0, len(a.owned))
	for c := range a.owned {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Close stops the assigner: OnChange(nil) stops every camera, then the leases and the heartbeat are
// deleted so that the other nodes take the cameras over at their next round, not after the TTL.
// ctx bounds the deletions.
func (a *Assigner) Close(ctx context.Context) {
	a.cancel()
	<-a.done
	a.mu.Lock()
	owned := a.owned
	a.owned = map[string]*held{}
	a.mu.Unlock()
	if len(owned) > 0 {
		a.cfg.OnChange(nil)
	}
	a.m.camerasOwned.Set(0)
	for c, h := range owned {
		if err := a.leases.kv.Delete(ctx, "cam."+c, jetstream.LastRevision(h.rev)); err != nil {
			a.log.Debug("release at close failed (expires after the TTL)", "camera", c, "err", redact.Error(err))
		}
	}
	if err := a.leases.kv.Delete(ctx, "node."+a.cfg.Node); err != nil {
		a.log.Debug("heartbeat delete failed", "err", redact.Error(err))
	}
}

func (a *Assigner) run(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(a.period)
	defer t.Stop()
	for {
		a.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round is one heartbeat, renewal and rebalancing pass.
func (a *Assigner) round(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, a.period)
	defer cancel()
	sent := time.Now()
	changed := false
	hb, _ := json.Marshal(Lease{Node: a.cfg.Node, Cameras: len(a.owned)})
	if _, err := a.leases.kv.Put(rctx, "node."+a.cfg.Node, hb); err != nil {
		a.m.leaseErrors.Inc()
	}
	changed = a.expire() || changed
	changed = a.renew(rctx, sent) || changed
	if ctx.Err() != nil {
		a.report(changed)
		return
	}
	cams, errC := a.cams.Names(rctx)
	nodes, errN := a.leases.Nodes(rctx)
	leased, errL := listKeys(rctx, a.leases.kv, "cam.*")
	if err := errors.Join(errC, errN, errL); err != nil {
		a.m.leaseErrors.Inc()
		a.report(changed)
		return
	}
	if !slices.Contains(nodes, a.cfg.Node) {
		nodes = append(nodes, a.cfg.Node)
	}
	a.m.liveNodes.Set(float64(len(nodes)))
	share := (len(cams) + len(nodes) - 1) / len(nodes)

	// Cameras removed from the set: release now.
	inSet := make(map[string]bool, len(cams))
	for _, c := range cams {
		inSet[c] = true
	}
	var gone []string
	for c := range a.owned {
		if !inSet[c] {
			gone = append(gone, c)
		}
	}
	if len(gone) > 0 {
		a.release(rctx, gone)
		changed = false
	}

	a.rounds++
	switch n := len(a.owned); {
	case a.rounds == 1:
		// The first round only announces the node: claiming before the other nodes' heartbeats
		// were seen would take too much and give it back at once.
	case n < share:
		a.over = 0
		taken := make(map[string]bool, len(leased))
		for _, k := range leased {
			taken[strings.TrimPrefix(k, "cam.")] = true
		}
		var free []string
		for _, c := range cams {
			if !taken[c] && a.owned[c] == nil {
				free = append(free, c)
			}
		}
		a.rank(free)
		changed = a.claim(rctx, free, share-n, sent) || changed
	case n > share:
		a.over++
		if a.over >= a.cfg.Hysteresis {
			mine := a.ownedLocked()
			a.rank(mine)
			a.release(rctx, mine[share:]) // the lowest-ranked ones
			changed = false
			a.over = 0
		}
	default:
		a.over = 0
	}
	a.report(changed)
}

// renew renews every lease; a lease changed by someone else is lost at once. It reports whether the
// set changed.
func (a *Assigner) renew(ctx context.Context, sent time.Time) bool {
	val, _ := json.Marshal(Lease{Node: a.cfg.Node})
	changed := false
	for c, h := range a.owned {
		rev, err := a.leases.kv.Update(ctx, "cam."+c, val, h.rev)
		if err == nil {
			a.setHeld(c, &held{rev: rev, deadline: sent.Add(a.leases.ttl - a.leases.ttl/10)})
			continue
		}
		a.m.leaseErrors.Inc()
		if !errors.Is(err, jetstream.ErrKeyExists) {
			continue // NATS slow or away: keep the camera until its deadline
		}
		// The lease changed: ours if an earlier renewal went through unanswered; gone (expired
		// while NATS was away, with KeepOnNATSLoss): take it again; else lost.
		e, gerr := a.leases.kv.Get(ctx, "cam."+c)
		switch {
		case gerr == nil:
			var v Lease
			if json.Unmarshal(e.Value(), &v) == nil && v.Node == a.cfg.Node {
				a.setHeld(c, &held{rev: e.Revision(), deadline: h.deadline})
				continue
			}
		case errors.Is(gerr, jetstream.ErrKeyNotFound):
			if rev, cerr := a.leases.kv.Create(ctx, "cam."+c, val); cerr == nil {
				a.setHeld(c, &held{rev: rev, deadline: sent.Add(a.leases.ttl - a.leases.ttl/10)})
				continue
			}
		default:
			continue // NATS away: try again next round
		}
		a.log.Warn("camera lease lost (expired or taken)", "camera", c)
		a.m.leaseLosses.Inc()
		a.drop(c)
		changed = true
	}
	return changed
}

// expire drops the cameras whose lease may have expired on the server (unless KeepOnNATSLoss).
func (a *Assigner) expire() bool {
	if a.cfg.KeepOnNATSLoss {
		return false
	}
	now := time.Now()
	changed := false
	for c, h := range a.owned {
		if now.After(h.deadline) {
			a.log.Warn("camera lease not renewed in time, camera stopped", "camera", c)
			a.m.leaseLosses.Inc()
			a.drop(c)
			changed = true
		}
	}
	return changed
}

// claim takes up to n of the free cameras (in order). It reports whether it took any.
func (a *Assigner) claim(ctx context.Context, free []string, n int, sent time.Time) bool {
	val, _ := json.Marshal(Lease{Node: a.cfg.Node})
	took := 0
	for _, c := range free {
		if took == n {
			break
		}
		rev, err := a.leases.kv.Create(ctx, "cam."+c, val)
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) {
				a.m.leaseErrors.Inc()
			}
			continue // another node was faster
		}
		a.setHeld(c, &held{rev: rev, deadline: sent.Add(a.leases.ttl - a.leases.ttl/10)})
		a.m.leaseClaims.Inc()
		took++
	}
	if took > 0 {
		a.log.Info("cameras claimed", "count", took, "owned", len(a.owned))
	}
	return took > 0
}

// release stops cams (OnChange without them) and then gives up their leases.
func (a *Assigner) release(ctx context.Context, cams []string) {
	revs := make(map[string]uint64, len(cams))
	for _, c := range cams {
		revs[c] = a.owned[c].rev
		a.drop(c)
	}
	a.report(true)
	for _, c := range cams {
		if err := a.leases.kv.Delete(ctx, "cam."+c, jetstream.LastRevision(revs[c])); err != nil {
			a.m.leaseErrors.Inc()
		}
		a.m.leaseReleases.Inc()
	}
	a.log.Info("cameras released", "count", len(cams), "owned", len(a.owned))
}

func (a *Assigner) setHeld(c string, h *held) {
	a.mu.Lock()
	a.owned[c] = h
	a.mu.Unlock()
}

func (a *Assigner) drop(c string) {
	a.mu.Lock()
	delete(a.owned, c)
	a.mu.Unlock()
}

// report calls OnChange with the current set when it changed.
func (a *Assigner) report(changed bool) {
	if !changed {
		return
	}
	owned := a.Owned()
	a.m.camerasOwned.Set(float64(len(owned)))
	a.cfg.OnChange(owned)
}

// rank sorts cams by this node's rendezvous score, highest first.
func (a *Assigner) rank(cams []string) {
	score := func(c string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(a.cfg.Node))
		h.Write([]byte{0})
		h.Write([]byte(c))
		return h.Sum64()
	}
	sort.Slice(cams, func(i, j int) bool { return score(cams[i]) > score(cams[j]) })
}
