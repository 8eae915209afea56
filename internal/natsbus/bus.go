package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// StoreConsumer is the durable consumer name of the event store on the EVENTS stream.
const StoreConsumer = "store"

// BusConfig configures a Bus. Zero values take the defaults.
type BusConfig struct {
	// Node is this node's id, unique in the fleet (1 to 64 of [A-Za-z0-9_-]): it names the node's
	// camera leases and the node shown in each camera's state. Required for a worker.
	Node string
	// Worker makes this node run cameras: its events go to the EVENTS stream and, once a fleet is
	// given to ServeCameras, it runs the cameras its leases give it.
	Worker bool
	// Events makes this node the event service: it consumes the EVENTS stream (durable consumer
	// StoreConsumer, explicit acknowledgements after the store's write).
	Events bool
	// Streams sizes the streams and sets the replica count of streams and buckets.
	Streams StreamsConfig
	// Publisher configures the worker's bounded publish buffer.
	Publisher PublisherConfig
	// LeaseTTL is the camera lease TTL of a new lease bucket (0: DefaultLeaseTTL).
	LeaseTTL time.Duration
	// KeepOnNATSLoss keeps a worker's cameras running while NATS is away (AssignerConfig).
	KeepOnNATSLoss bool
	// StateInterval is how often a worker writes its cameras' states. It defaults to 1 s.
	StateInterval time.Duration
	// AckWait is how long an event delivered to the event service may stay unacknowledged before
	// it is delivered again (a node that died holding it). It defaults to 10 s.
	AckWait time.Duration
	// Concurrency is how many events the event service may hold at once (unacknowledged, each
	// camera's in stream order), so that concurrent store writes share an fsync. It defaults to 8.
	Concurrency int
	// Gate is the default motion gate, for validating cameras added through Cameras. It defaults
	// to config.DefaultGate().
	Gate config.Gate
	// Clips, when set, opens the clip bucket (ClipsBucket): a worker puts its stored clips there
	// (Clips().StartUploads, Submit), the events node reads them (Clips().OpenClip, Has).
	Clips *ClipsConfig
	// OnPublished, when set, is called with the id of each event the stream acknowledged.
	OnPublished func(id string)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Bus is the NATS JetStream implementation of bus.Bus (and bus.AckBus): a worker publishes each
// event to the EVENTS stream with the event id as message id (deduplicated by the stream), through
// a bounded buffer that never blocks; the event service takes events from the durable consumer
// StoreConsumer and acknowledges each only after the store's durable write (Delivery.Done), so an
// event the stream acknowledged is stored exactly once even across crashes of either side (a
// redelivered one is recognised by the store's id). Cameras are the fleet-wide camera set
// (CamerasBucket): the API writes it; a worker runs the cameras its Assigner leases and writes their
// states (StatesBucket) with its node name, which every node's Cameras().State reads.
type Bus struct {
	cfg    BusConfig
	conn   *Conn
	m      *Metrics
	log    *slog.Logger
	cams   *Cameras
	states *States
	leases *Leases

	pub      *Publisher
	consumer *Consumer
	clips    *Clips
	// enrichPub sends the events node's enrichment jobs (SubmitEnrich).
	enrichPub *Publisher
	// deliveries carries events from the consumer's handler to NextDelivery.
	deliveries chan bus.Delivery

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.RWMutex
	camCache  map[string]config.Camera
	stateMemo map[string]bus.CameraState
	// owners is the events node's view of the leases (watched): camera -> holder and the time of
	// the lease's last write; a lease older than the TTL has expired.
	owners map[string]leaseSeen

	// The worker's side, once ServeCameras was called.
	fleetMu  sync.Mutex // serialises changes to the fleet
	fleet    bus.Cameras
	assigner *Assigner
	owned    map[string]bool

	closeOnce sync.Once
	closed    chan struct{}
}

// leaseSeen is one camera lease as the watcher last saw it.
type leaseSeen struct {
	node string
	at   time.Time
}

// wireEvent is an event on the stream: the event's JSON and its keyframe (which event.Event keeps
// out of its JSON).
type wireEvent struct {
	event.Event
	Keyframe []byte `json:"keyframe,omitempty"`
}

// OpenBus checks or creates the streams (an EVENTS stream made by someone else with other settings
// is an error wrapping ErrStreamConflict), opens the buckets, and starts the publisher (worker) and
// the store's consumer (events). m may be nil. Close it after the App that uses it.
func OpenBus(ctx context.Context, c *Conn, m *Metrics, cfg BusConfig) (_ *Bus, err error) {
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StateInterval <= 0 {
		cfg.StateInterval = time.Second
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 10 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if reflect.DeepEqual(cfg.Gate, config.Gate{}) {
		cfg.Gate = config.DefaultGate()
	}
	if cfg.Worker && !validName(cfg.Node) {
		return nil, fmt.Errorf("natsbus: node id %q is not 1..64 of [A-Za-z0-9_-]", cfg.Node)
	}
	if err := EnsureStreams(ctx, c.js, cfg.Streams); err != nil {
		return nil, err
	}
	b := &Bus{cfg: cfg, conn: c, m: m, log: cfg.Logger.With("component", "nats-bus", "node", cfg.Node),
		deliveries: make(chan bus.Delivery), camCache: map[string]config.Camera{},
		stateMemo: map[string]bus.CameraState{}, owners: map[string]leaseSeen{}, owned: map[string]bool{}, closed: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	replicas := cfg.Streams.withDefaults().Replicas
	if b.cams, err = OpenCameras(ctx, c, replicas); err != nil {
		return nil, err
	}
	if b.states, err = OpenStates(ctx, c, replicas); err != nil {
		return nil, err
	}
	if b.leases, err = OpenLeases(ctx, c, cfg.LeaseTTL, replicas); err != nil {
		return nil, err
	}
	if cfg.Clips != nil {
		if b.clips, err = OpenClips(ctx, c, replicas, *cfg.Clips); err != nil {
			return nil, err
		}
	}
	if err := b.watchCameras(ctx); err != nil {
		return nil, err
	}
	if err := b.watchStates(ctx); err != nil {
		return nil, err
	}
	if cfg.Events {
		if err := b.watchLeases(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Worker {
		pc := cfg.Publisher
		if pc.Logger == nil {
			pc.Logger = cfg.Logger
		}
		pc.OnAck = cfg.OnPublished
		if b.pub, err = NewPublisher(c, m, pc); err != nil {
			return nil, err
		}
	}
	if cfg.Events {
		pc := cfg.Publisher
		if pc.Logger == nil {
			pc.Logger = cfg.Logger
		}
		pc.OnAck = nil
		// The jobs' buffer has series of its own (the events' are the worker's).
		em := *m
		em.dropped, em.buffer, em.inFlight = m.enrichDropped, m.enrichBuffer, m.enrichFlight
		if b.enrichPub, err = NewPublisher(c, &em, pc); err != nil {
			return nil, err
		}
		if b.consumer, err = StartConsumer(ctx, c, m, ConsumerConfig{Stream: EventsStream, Durable: StoreConsumer,
			AckWait: cfg.AckWait, Handler: b.handle, Logger: cfg.Logger, Concurrency: cfg.Concurrency}); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// watch runs w's updates through apply on a goroutine of the bus, after the initial values, which
// it applies before returning.
func (b *Bus) watch(ctx context.Context, w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) error {
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("natsbus: watcher closed before its initial values")
			}
			if e == nil { // initial values done
				b.wg.Add(1)
				go func() {
					defer b.wg.Done()
					defer func() { _ = w.Stop() }()
					for {
						select {
						case e, ok := <-w.Updates():
							if !ok {
								return
							}
							if e != nil {
								apply(e)
							}
						case <-b.ctx.Done():
							return
						}
					}
				}()
				return nil
			}
			apply(e)
		case <-ctx.Done():
			_ = w.Stop()
			return fmt.Errorf("natsbus: initial values: %w", ctx.Err())
		}
	}
}

func (b *Bus) watchCameras(ctx context.Context) error {
	w, err := b.cams.kv.WatchAll(b.ctx)
	if err != nil {
		return fmt.Errorf("natsbus: watch cameras: %w", err)
	}
	return b.watch(ctx, w, func(e jetstream.KeyValueEntry) {
		name := e.Key()
		if e.Operation() != jetstream.KeyValuePut {
			b.mu.Lock()
			delete(b.camCache, name)
			b.mu.Unlock()
			return
		}
		var cam config.Camera
		if err := json.Unmarshal(e.Value(), &cam); err != nil || cam.Name != name {
			b.log.Warn("camera set: entry is not a camera config, ignored", "key", name)
			return
		}
		b.mu.Lock()
		prev, had := b.camCache[name]
		b.camCache[name] = cam
		b.mu.Unlock()
		if had && !sameCamera(prev, cam) {
			b.replaceOwned(cam)
		}
	})
}

func (b *Bus) watchStates(ctx context.Context) error {
	w, err := b.states.kv.WatchAll(b.ctx)
	if err != nil {
		return fmt.Errorf("natsbus: watch states: %w", err)
	}
	return b.watch(ctx, w, func(e jetstream.KeyValueEntry) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(b.stateMemo, e.Key())
			return
		}
		var st bus.CameraState
		if json.Unmarshal(e.Value(), &st) == nil {
			b.stateMemo[e.Key()] = st
		}
	})
}

// watchLeases keeps owners: the API's camera states then need no NATS request (and answer at once
// while NATS is away, from what was seen last).
func (b *Bus) watchLeases(ctx context.Context) error {
	w, err := b.leases.kv.Watch(b.ctx, "cam.*")
	if err != nil {
		return fmt.Errorf("natsbus: watch leases: %w", err)
	}
	return b.watch(ctx, w, func(e jetstream.KeyValueEntry) {
		cam := strings.TrimPrefix(e.Key(), "cam.")
		b.mu.Lock()
		defer b.mu.Unlock()
		if e.Operation() != jetstream.KeyValuePut {
			delete(b.owners, cam)
			return
		}
		var v Lease
		if json.Unmarshal(e.Value(), &v) == nil {
			b.owners[cam] = leaseSeen{node: v.Node, at: e.Created()}
		}
	})
}

// owner returns camera's lease holder: from the watched leases on the events node (expired after
// the TTL without a renewal), else from the bucket.
func (b *Bus) owner(camera string) (string, error) {
	if b.cfg.Events {
		b.mu.RLock()
		l, ok := b.owners[camera]
		b.mu.RUnlock()
		if !ok || time.Since(l.at) > b.leases.ttl {
			return "", nil
		}
		return l.node, nil
	}
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	return b.leases.Owner(ctx, camera)
}

func sameCamera(a, b config.Camera) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// PublishEvent implements bus.Bus: the event goes to the publish buffer (never blocks; a full
// buffer drops and counts). A keyframe too large for the server's payload limit is left out.
func (b *Bus) PublishEvent(ev event.Event) bool {
	if b.pub == nil {
		b.m.dropped.WithLabelValues(DropClosed).Inc()
		return false
	}
	w := wireEvent{Event: ev, Keyframe: ev.Keyframe}
	w.Event.Keyframe = nil
	data, err := json.Marshal(w)
	if err != nil {
		b.m.dropped.WithLabelValues(DropRefused).Inc()
		return false
	}
	if limit := b.conn.nc.MaxPayload() - 1024; limit > 0 && int64(len(data)) > limit && len(w.Keyframe) > 0 {
		b.log.Warn("event keyframe too large for NATS's payload limit, sent without it", "event", ev.ID, "bytes", len(data))
		w.Keyframe = nil
		w.KeyframeRef = ""
		if data, err = json.Marshal(w); err != nil {
			b.m.dropped.WithLabelValues(DropRefused).Inc()
			return false
		}
	}
	return b.pub.PublishEvent(ev.Camera, ev.ID, data)
}

// handle is the store consumer's handler: it hands the event to NextDelivery and waits for the
// event service's outcome; the consumer acknowledges the message only when it is nil.
func (b *Bus) handle(ctx context.Context, m Msg) error {
	var w wireEvent
	if err := json.Unmarshal(m.Data, &w); err != nil || w.ID == "" {
		// Not an event: acknowledged and dropped, or it would come back forever.
		b.log.Error("stream message is not an event, dropped", "subject", m.Subject, "id", m.ID, "err", err)
		return nil
	}
	ev := w.Event
	ev.Keyframe = w.Keyframe
	done := make(chan error, 1)
	d := bus.Delivery{Event: ev, Redelivered: m.Delivered > 1, Done: func(err error) {
		select {
		case done <- err:
		default:
		}
	}}
	select {
	case b.deliveries <- d:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.closed:
		return bus.ErrClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NextDelivery implements bus.AckBus.
func (b *Bus) NextDelivery(ctx context.Context) (bus.Delivery, error) {
	if b.consumer == nil {
		return bus.Delivery{}, errors.New("natsbus: this node is not the event service (no consumer)")
	}
	select {
	case d := <-b.deliveries:
		return d, nil
	case <-ctx.Done():
		return bus.Delivery{}, ctx.Err()
	case <-b.closed:
		return bus.Delivery{}, bus.ErrClosed
	}
}

// NextEvent implements bus.Bus. It acknowledges the event as it returns it: the event service uses
// NextDelivery, which acknowledges after the store's write.
func (b *Bus) NextEvent(ctx context.Context) (event.Event, error) {
	d, err := b.NextDelivery(ctx)
	if err != nil {
		return event.Event{}, err
	}
	d.Done(nil)
	return d.Event, nil
}

// AssignsCameras implements bus.Assigning: a worker runs the cameras its leases give it.
func (b *Bus) AssignsCameras() bool { return b.cfg.Worker }

// ServeCameras implements bus.Bus: on a worker it starts the camera leases; the cameras leased are
// added to c and those released removed from it. On a node that is no worker it does nothing.
func (b *Bus) ServeCameras(c bus.Cameras) {
	if !b.cfg.Worker {
		return
	}
	b.fleetMu.Lock()
	defer b.fleetMu.Unlock()
	if b.fleet != nil || b.ctx.Err() != nil {
		return
	}
	b.fleet = c
	a, err := StartAssigner(b.cams, b.leases, b.m, AssignerConfig{Node: b.cfg.Node, OnChange: b.assigned,
		KeepOnNATSLoss: b.cfg.KeepOnNATSLoss, Logger: b.cfg.Logger})
	if err != nil { // only a bad node id, which OpenBus checked
		b.log.Error("camera leases not started", "err", err)
		return
	}
	b.assigner = a
	b.wg.Add(1)
	go b.reportStates()
}

// assigned makes the fleet run exactly the cameras in owned (the Assigner's OnChange).
func (b *Bus) assigned(owned []string) {
	b.fleetMu.Lock()
	defer b.fleetMu.Unlock()
	want := make(map[string]bool, len(owned))
	for _, c := range owned {
		want[c] = true
	}
	ctx := context.Background()
	for _, cam := range b.fleet.List() {
		if !want[cam.Name] {
			if err := b.fleet.Remove(ctx, cam.Name); err != nil && !errors.Is(err, bus.ErrCameraNotFound) {
				b.log.Warn("camera not stopped", "camera", cam.Name, "err", redact.Error(err))
			}
			delete(b.owned, cam.Name)
		}
	}
	for _, name := range owned {
		if _, err := b.fleet.Get(name); err == nil {
			continue
		}
		b.mu.RLock()
		cam, ok := b.camCache[name]
		b.mu.RUnlock()
		if !ok {
			raw, _, err := b.cams.Get(ctx, name)
			if err == nil {
				err = json.Unmarshal(raw, &cam)
			}
			if err != nil {
				b.log.Warn("leased camera has no config (yet)", "camera", name, "err", redact.Error(err))
				continue
			}
		}
		if err := b.fleet.Add(ctx, cam); err != nil {
			b.log.Error("leased camera not started", "camera", name, "err", redact.Error(err))
			continue
		}
		b.owned[name] = true
		b.log.Info("camera started on this node", "camera", name)
		b.putState(ctx, b.fleet, name)
	}
}

// replaceOwned applies a changed camera config to the fleet when this node runs the camera.
func (b *Bus) replaceOwned(cam config.Camera) {
	b.fleetMu.Lock()
	defer b.fleetMu.Unlock()
	if b.fleet == nil || !b.owned[cam.Name] {
		return
	}
	if err := b.fleet.Replace(context.Background(), cam); err != nil {
		b.log.Error("camera change not applied", "camera", cam.Name, "err", redact.Error(err))
	}
}

// reportStates writes the states of the cameras this node runs every StateInterval.
func (b *Bus) reportStates() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.StateInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.fleetMu.Lock()
		names := make([]string, 0, len(b.owned))
		for n := range b.owned {
			names = append(names, n)
		}
		fleet := b.fleet
		b.fleetMu.Unlock()
		for _, n := range names {
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.StateInterval)
			b.putState(ctx, fleet, n)
			cancel()
		}
	}
}

// putState writes the state of camera name, which fleet runs.
func (b *Bus) putState(ctx context.Context, fleet bus.Cameras, name string) {
	st, err := fleet.State(name)
	if err != nil {
		return
	}
	st.Node = b.cfg.Node
	data, err := json.Marshal(st)
	if err != nil {
		return
	}
	if err := b.states.Put(ctx, name, data); err != nil {
		b.m.leaseErrors.Inc()
	}
}

// Clips returns the clip bucket (nil unless BusConfig.Clips was set).
func (b *Bus) Clips() *Clips { return b.clips }

// Cameras implements bus.Bus: the fleet-wide camera set.
func (b *Bus) Cameras() bus.Cameras { return natsCameras{b} }

// Close stops the leases (the cameras are removed from the fleet and their leases given up, so
// other workers take them at once), sends what the publish buffer holds (for up to 10 s), stops the
// consumer (events delivered and not acknowledged come again), the clip bucket's uploads (the clips
// queued are put within the same 10 s, the rest counted) and the watchers. It is safe to call more
// than once.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		close(b.closed)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.fleetMu.Lock()
		a := b.assigner
		b.fleetMu.Unlock()
		if a != nil {
			a.Close(ctx)
		}
		if b.pub != nil {
			if err := b.pub.Close(ctx); err != nil {
				b.log.Warn("events left unsent at close", "err", err)
			}
		}
		if b.enrichPub != nil {
			if err := b.enrichPub.Close(ctx); err != nil {
				b.log.Warn("enrichment jobs left unsent at close", "err", err)
			}
		}
		if b.consumer != nil {
			b.consumer.Close()
		}
		if b.clips != nil {
			b.clips.Close(ctx)
		}
		b.cancel()
		b.wg.Wait()
	})
}

// natsCameras is bus.Cameras over the camera bucket, the states bucket and the leases.
type natsCameras struct{ b *Bus }

func (c natsCameras) List() []config.Camera {
	c.b.mu.RLock()
	out := make([]config.Camera, 0, len(c.b.camCache))
	for _, cam := range c.b.camCache {
		out = append(out, cam)
	}
	c.b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c natsCameras) Get(name string) (config.Camera, error) {
	c.b.mu.RLock()
	cam, ok := c.b.camCache[name]
	c.b.mu.RUnlock()
	if !ok {
		return config.Camera{}, fmt.Errorf("%w: %q", bus.ErrCameraNotFound, name)
	}
	return cam, nil
}

func (c natsCameras) encode(cam *config.Camera) ([]byte, error) {
	if err := cam.Validate(c.b.cfg.Gate); err != nil {
		return nil, err
	}
	return json.Marshal(cam)
}

func (c natsCameras) cache(cam config.Camera) {
	c.b.mu.Lock()
	c.b.camCache[cam.Name] = cam
	c.b.mu.Unlock()
}

func (c natsCameras) Add(ctx context.Context, cam config.Camera) error {
	data, err := c.encode(&cam)
	if err != nil {
		return err
	}
	if _, err := c.b.cams.Update(ctx, cam.Name, data, 0); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %q", bus.ErrCameraExists, cam.Name)
		}
		return err
	}
	c.cache(cam)
	return nil
}

func (c natsCameras) Replace(ctx context.Context, cam config.Camera) error {
	data, err := c.encode(&cam)
	if err != nil {
		return err
	}
	_, rev, err := c.b.cams.Get(ctx, cam.Name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %q", bus.ErrCameraNotFound, cam.Name)
	}
	if err != nil {
		return err
	}
	if _, err := c.b.cams.Update(ctx, cam.Name, data, rev); err != nil {
		return fmt.Errorf("camera %q changed meanwhile, try again: %w", cam.Name, err)
	}
	c.cache(cam)
	return nil
}

func (c natsCameras) Remove(ctx context.Context, name string) error {
	if _, _, err := c.b.cams.Get(ctx, name); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("%w: %q", bus.ErrCameraNotFound, name)
		}
		return err
	}
	if err := c.b.cams.Delete(ctx, name); err != nil {
		return err
	}
	c.b.mu.Lock()
	delete(c.b.camCache, name)
	c.b.mu.Unlock()
	if err := c.b.states.Delete(ctx, name); err != nil {
		c.b.log.Debug("state of a removed camera not deleted", "camera", name, "err", redact.Error(err))
	}
	return nil
}

// State returns the state its worker last wrote, checked against the camera's lease: a camera that
// no node holds (or whose new holder has not reported yet) is "starting".
func (c natsCameras) State(name string) (bus.CameraState, error) {
	cam, err := c.Get(name)
	if err != nil {
		return bus.CameraState{}, err
	}
	owner, err := c.b.owner(name)
	if err != nil {
		return bus.CameraState{}, fmt.Errorf("camera %q: state unknown (NATS): %w", name, err)
	}
	c.b.mu.RLock()
	st, ok := c.b.stateMemo[name]
	c.b.mu.RUnlock()
	switch {
	case owner == "" && !cam.IsEnabled():
		return bus.CameraState{Name: name, Phase: bus.PhaseDisabled}, nil
	case owner == "":
		return bus.CameraState{Name: name, Phase: bus.PhaseStarting, Reason: "waiting for a worker node", Since: st.Since}, nil
	case !ok || st.Node != owner:
		return bus.CameraState{Name: name, Phase: bus.PhaseStarting, Node: owner, Reason: "starting on node " + owner}, nil
	}
	return st, nil
}

// SeedCameras implements bus.CameraSeeder: each camera not in the set, or in it with another
// config, is written.
func (c natsCameras) SeedCameras(ctx context.Context, cams []config.Camera) error {
	var errs []error
	for _, cam := range cams {
		data, err := c.encode(&cam)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if have, err := c.Get(cam.Name); err == nil && sameCamera(have, cam) {
			continue
		}
		if _, err := c.b.cams.Put(ctx, cam.Name, data); err != nil {
			errs = append(errs, err)
			continue
		}
		c.cache(cam)
	}
	return errors.Join(errs...)
}

var (
	_ bus.AckBus       = (*Bus)(nil)
	_ bus.Assigning    = (*Bus)(nil)
	_ bus.CameraSeeder = natsCameras{}
)

// stateDesc is mvwatch_bus_camera_state.
var stateDesc = prometheus.NewDesc("mvwatch_bus_camera_state",
	"1 for each camera of the fleet-wide camera set, with the state and node its worker last reported (state \"unknown\", node \"\" before any report).",
	[]string{"camera", "state", "node"}, nil)

// Collector returns the fleet-wide camera state metric, mvwatch_bus_camera_state{camera,state,node},
// read from the camera set and the states its workers last wrote (no NATS request per scrape).
func (b *Bus) Collector() prometheus.Collector { return stateCollector{b} }

type stateCollector struct{ b *Bus }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stateDesc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.b.mu.RLock()
	defer c.b.mu.RUnlock()
	for name := range c.b.camCache {
		state, node := "unknown", ""
		if st, ok := c.b.stateMemo[name]; ok {
			state, node = string(st.Phase), st.Node
		}
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, 1, name, state, node)
	}
}
