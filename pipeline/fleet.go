package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
)

// Fleet runs the set of cameras and implements CameraManager for the HTTP API: cameras can be added
// and removed at run time, each with its own runner, so a failing camera never stops the others.
type Fleet struct {
	gate config.Gate
	deps *cameraDeps

	mu      sync.Mutex
	cams    map[string]config.Camera
	runners map[string]*cameraRunner
	closed  bool
}

func newFleet(gate config.Gate, deps *cameraDeps) *Fleet {
	return &Fleet{gate: gate, deps: deps, cams: map[string]config.Camera{}, runners: map[string]*cameraRunner{}}
}

// List returns the cameras sorted by name.
func (f *Fleet) List() []config.Camera {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]config.Camera, 0, len(f.cams))
	for _, c := range f.cams {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns one camera's configuration.
func (f *Fleet) Get(name string) (config.Camera, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cams[name]
	if !ok {
		return config.Camera{}, fmt.Errorf("%w: %q", ErrCameraNotFound, name)
	}
	return c, nil
}

// Add validates cam and starts it (unless it is disabled).
func (f *Fleet) Add(_ context.Context, cam config.Camera) error {
	if err := cam.Validate(f.gate); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("camera %q: the service is shutting down", cam.Name)
	}
	if _, ok := f.cams[cam.Name]; ok {
		return fmt.Errorf("%w: %q", ErrCameraExists, cam.Name)
	}
	f.cams[cam.Name] = cam
	if !cam.IsEnabled() {
		if f.deps.metrics != nil {
			f.deps.metrics.SetCameraState(cam.Name, PhaseDisabled)
		}
		return nil
	}
	r, err := startCamera(cam, f.deps)
	if err != nil {
		delete(f.cams, cam.Name)
		return fmt.Errorf("camera %q: %w", cam.Name, err)
	}
	f.runners[cam.Name] = r
	return nil
}

// Remove stops a camera (publishing its open event) and forgets it.
func (f *Fleet) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	if _, ok := f.cams[name]; !ok {
		f.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrCameraNotFound, name)
	}
	r := f.runners[name]
	delete(f.cams, name)
	delete(f.runners, name)
	f.mu.Unlock()
	if r != nil {
		r.stop()
	}
	if f.deps.metrics != nil {
		f.deps.metrics.ForgetCamera(name)
	}
	if f.deps.onRemove != nil {
		f.deps.onRemove(name)
	}
	return nil
}

// State returns a camera's state.
func (f *Fleet) State(name string) (CameraState, error) {
	f.mu.Lock()
	c, ok := f.cams[name]
	r := f.runners[name]
	f.mu.Unlock()
	if !ok {
		return CameraState{}, fmt.Errorf("%w: %q", ErrCameraNotFound, name)
	}
	if r == nil {
		return CameraState{Name: c.Name, Phase: PhaseDisabled, Since: time.Time{}}, nil
	}
	return r.State(), nil
}

// Close stops every camera in parallel; each publishes its open event before Close returns.
func (f *Fleet) Close() {
	f.mu.Lock()
	f.closed = true
	runners := make([]*cameraRunner, 0, len(f.runners))
	for _, r := range f.runners {
		runners = append(runners, r)
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stop()
		}()
	}
	wg.Wait()
}

var _ CameraManager = (*Fleet)(nil)
