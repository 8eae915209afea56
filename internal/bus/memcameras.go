package bus

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
)

// MemCameras is a camera set held in memory that runs nothing: every camera it is given is
// reported running at once. It stands in for a worker's fleet where only the camera assignment is
// under test or measured (natsbus tests, `mvwatch bench nats`). Safe for concurrent use.
type MemCameras struct {
	mu   sync.Mutex
	cams map[string]config.Camera
}

// NewMemCameras returns an empty MemCameras.
func NewMemCameras() *MemCameras { return &MemCameras{cams: map[string]config.Camera{}} }

// List implements Cameras, sorted by name.
func (m *MemCameras) List() []config.Camera {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]config.Camera, 0, len(m.cams))
	for _, c := range m.cams {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the cameras' names, sorted.
func (m *MemCameras) Names() []string {
	cams := m.List()
	out := make([]string, len(cams))
	for i, c := range cams {
		out[i] = c.Name
	}
	return out
}

// Len returns how many cameras it holds.
func (m *MemCameras) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cams)
}

// Get implements Cameras.
func (m *MemCameras) Get(name string) (config.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cams[name]
	if !ok {
		return config.Camera{}, ErrCameraNotFound
	}
	return c, nil
}

// Add implements Cameras; a name it holds already is ErrCameraExists.
func (m *MemCameras) Add(_ context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[c.Name]; ok {
		return ErrCameraExists
	}
	m.cams[c.Name] = c
	return nil
}

// Replace implements Cameras.
func (m *MemCameras) Replace(_ context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cams[c.Name] = c
	return nil
}

// Remove implements Cameras.
func (m *MemCameras) Remove(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[name]; !ok {
		return ErrCameraNotFound
	}
	delete(m.cams, name)
	return nil
}

// State implements Cameras: every camera held is running.
func (m *MemCameras) State(name string) (CameraState, error) {
	if _, err := m.Get(name); err != nil {
		return CameraState{}, err
	}
	return CameraState{Name: name, Phase: PhaseRunning, Since: time.Now()}, nil
}
