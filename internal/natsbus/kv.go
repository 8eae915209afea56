package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names.
const (
	// CamerasBucket holds the camera set: key = camera name, value = the camera's config as JSON.
	CamerasBucket = "mvwatch_cameras"
	// LeasesBucket holds the camera leases (key cam.<camera>, value: the owner node) and the worker
	// nodes' heartbeats (key node.<node>). Every key expires TTL after its last write.
	LeasesBucket = "mvwatch_leases"
)

// Cameras is the fleet-wide camera set in the CamerasBucket key-value bucket. The API writes it
// (Put, Delete), so a change persists and reaches every node; workers read it through the Assigner.
type Cameras struct {
	kv jetstream.KeyValue
}

// OpenCameras opens the camera bucket, creating it when missing (file storage, replicas copies, a
// short history of each camera's config).
func OpenCameras(ctx context.Context, c *Conn, replicas int) (*Cameras, error) {
	kv, err := openBucket(ctx, c.js, jetstream.KeyValueConfig{Bucket: CamerasBucket,
		Description: "mvwatch camera set: camera name -> config JSON", History: 5,
		Storage: jetstream.FileStorage, Replicas: max(replicas, 1)})
	if err != nil {
		return nil, err
	}
	return &Cameras{kv: kv}, nil
}

func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("natsbus: bucket %s: %w", cfg.Bucket, err)
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, cfg.Bucket) // created by another node meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("natsbus: create bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Put writes camera's config and returns its new revision.
func (c *Cameras) Put(ctx context.Context, camera string, config []byte) (uint64, error) {
	if !validName(camera) {
		return 0, fmt.Errorf("natsbus: camera name %q is not 1..64 of [A-Za-z0-9_-]", camera)
	}
	rev, err := c.kv.Put(ctx, camera, config)
	if err != nil {
		return 0, fmt.Errorf("natsbus: put camera %s: %w", camera, err)
	}
	return rev, nil
}

// Update writes camera's config if its revision is still rev (compare-and-swap; 0: the camera must
// not exist). A concurrent change makes it fail with an error matching jetstream.ErrKeyExists.
func (c *Cameras) Update(ctx context.Context, camera string, config []byte, rev uint64) (uint64, error) {
	if !validName(camera) {
		return 0, fmt.Errorf("natsbus: camera name %q is not 1..64 of [A-Za-z0-9_-]", camera)
	}
	var err error
	if rev == 0 {
		rev, err = c.kv.Create(ctx, camera, config)
	} else {
		rev, err = c.kv.Update(ctx, camera, config, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("natsbus: update camera %s: %w", camera, err)
	}
	return rev, nil
}

// Get returns camera's config and revision; an error matching jetstream.ErrKeyNotFound when there
// is no such camera.
func (c *Cameras) Get(ctx context.Context, camera string) ([]byte, uint64, error) {
	e, err := c.kv.Get(ctx, camera)
	if err != nil {
		return nil, 0, fmt.Errorf("natsbus: get camera %s: %w", camera, err)
	}
	return e.Value(), e.Revision(), nil
}

// Delete removes camera from the set.
func (c *Cameras) Delete(ctx context.Context, camera string) error {
	if err := c.kv.Delete(ctx, camera); err != nil {
		return fmt.Errorf("natsbus: delete camera %s: %w", camera, err)
	}
	return nil
}

// List returns every camera's config.
func (c *Cameras) List(ctx context.Context) (map[string][]byte, error) {
	names, err := c.Names(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		v, _, err := c.Get(ctx, n)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

// Names returns the camera names.
func (c *Cameras) Names(ctx context.Context) ([]string, error) {
	return listKeys(ctx, c.kv, ">")
}

// Watch returns a watcher of every camera change (initial values first, then a nil entry, then
// updates and deletions) until ctx ends or Stop.
func (c *Cameras) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsbus: watch cameras: %w", err)
	}
	return w, nil
}

// listKeys lists the keys of kv matching filter (a subject filter over the keys).
func listKeys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kl, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("natsbus: list %s: %w", kv.Bucket(), err)
	}
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("natsbus: list %s: %w", kv.Bucket(), ctx.Err())
	}
	return keys, nil
}

// StatesBucket holds each camera's state as its worker last reported it: key = camera name, value =
// the state JSON (phase, reason, node, ...).
const StatesBucket = "mvwatch_camera_state"

// States is the fleet-wide camera state, written by the worker that runs each camera and read by
// every node's API and metrics. A state outlives its writer: read it together with Leases.Owners
// (a camera without a lease is not running anywhere, whatever its last state says).
type States struct {
	kv jetstream.KeyValue
}

// OpenStates opens the state bucket, creating it when missing.
func OpenStates(ctx context.Context, c *Conn, replicas int) (*States, error) {
	kv, err := openBucket(ctx, c.js, jetstream.KeyValueConfig{Bucket: StatesBucket,
		Description: "mvwatch camera state: camera name -> state JSON", History: 1,
		Storage: jetstream.FileStorage, Replicas: max(replicas, 1)})
	if err != nil {
		return nil, err
	}
	return &States{kv: kv}, nil
}

// Put records camera's state.
func (s *States) Put(ctx context.Context, camera string, state []byte) error {
	if !validName(camera) {
		return fmt.Errorf("natsbus: camera name %q is not 1..64 of [A-Za-z0-9_-]", camera)
	}
	if _, err := s.kv.Put(ctx, camera, state); err != nil {
		return fmt.Errorf("natsbus: put state of %s: %w", camera, err)
	}
	return nil
}

// Get returns camera's last state; an error matching jetstream.ErrKeyNotFound when none.
func (s *States) Get(ctx context.Context, camera string) ([]byte, error) {
	e, err := s.kv.Get(ctx, camera)
	if err != nil {
		return nil, fmt.Errorf("natsbus: state of %s: %w", camera, err)
	}
	return e.Value(), nil
}

// Delete forgets camera's state (the camera was removed).
func (s *States) Delete(ctx context.Context, camera string) error {
	if err := s.kv.Delete(ctx, camera); err != nil {
		return fmt.Errorf("natsbus: delete state of %s: %w", camera, err)
	}
	return nil
}

// List returns every camera's last state.
func (s *States) List(ctx context.Context) (map[string][]byte, error) {
	names, err := listKeys(ctx, s.kv, ">")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		v, err := s.Get(ctx, n)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

// Watch returns a watcher of every state change (initial values first, then a nil entry, then
// updates and deletions) until ctx ends or Stop.
func (s *States) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsbus: watch states: %w", err)
	}
	return w, nil
}
