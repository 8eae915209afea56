package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/store"
)

// savedCameras is the camera control surface the API uses when the App has a store: every change
// that succeeds is also recorded in the store's camera overlay, so that it survives a restart
// (Start applies the overlay to the config file's cameras).
type savedCameras struct {
	bus.Cameras
	store *store.Store
}

func (c savedCameras) Add(ctx context.Context, cam config.Camera) error {
	if err := c.Cameras.Add(ctx, cam); err != nil {
		return err
	}
	saved, err := c.Get(cam.Name) // as validated, defaults applied
	if err == nil {
		err = c.store.SaveCamera(saved)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("camera %s not saved, not added: %w", cam.Name, err), c.Cameras.Remove(ctx, cam.Name))
	}
	return nil
}

func (c savedCameras) Replace(ctx context.Context, cam config.Camera) error {
	if err := c.Cameras.Replace(ctx, cam); err != nil {
		return err
	}
	saved, err := c.Get(cam.Name)
	if err == nil {
		err = c.store.SaveCamera(saved)
	}
	if err != nil {
		return fmt.Errorf("camera %s replaced but not saved (a restart returns to the previous one): %w", cam.Name, err)
	}
	return nil
}

func (c savedCameras) Remove(ctx context.Context, name string) error {
	if err := c.Cameras.Remove(ctx, name); err != nil {
		return err
	}
	if err := c.store.RemoveCamera(name); err != nil {
		return fmt.Errorf("camera %s removed but not saved (a restart brings it back): %w", name, err)
	}
	return nil
}

// startCameras returns the cameras to start: the config's, with the store's overlay of API changes
// applied when there is a store.
func (a *App) startCameras() []config.Camera {
	if a.store == nil {
		return a.cfg.Cameras
	}
	o, err := a.store.CameraOverlay()
	if err != nil {
		a.log.Error("camera changes made through the API not applied", "err", err)
		return a.cfg.Cameras
	}
	return o.Apply(a.cfg).Cameras
}

// Reload applies a reloaded config file: the cameras it adds, removes or changes (with the API's
// recorded changes applied on top, as at start) are added, removed and replaced in the running
// fleet; a camera replaced keeps its open event. Other sections are not applied while running: the
// returned diff names them (a restart applies them). Errors of single cameras are joined; the others
// are still applied.
func (a *App) Reload(ctx context.Context, next *config.Config) (config.Diff, error) {
	if a.fleet == nil {
		return config.Diff{}, errors.New("reload: this process runs no cameras")
	}
	if bus.AssignsCameras(a.bus) {
		return config.Diff{}, errors.New("reload: the cameras come from the NATS camera set (change them through the API)")
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	want := next
	if a.store != nil {
		o, err := a.store.CameraOverlay()
		if err != nil {
			return config.Diff{}, fmt.Errorf("reload: %w", err)
		}
		want = o.Apply(next)
	}
	running := *next
	running.Cameras = a.fleet.List()
	d := config.Compare(&running, want)
	d.Sections = config.Compare(a.fileCfg, next).Sections
	var errs []error
	for _, name := range d.Removed {
		errs = append(errs, a.fleet.Remove(ctx, name))
	}
	for _, cam := range d.Changed {
		errs = append(errs, a.fleet.Replace(ctx, cam))
	}
	for _, cam := range d.Added {
		errs = append(errs, a.fleet.Add(ctx, cam))
	}
	a.fileCfg = next
	return d, errors.Join(errs...)
}

// ReloadFile loads the config file again (Options.LoadConfig) and applies it with Reload. A file that
// does not load changes nothing; the error wraps api.ErrReloadConfig.
func (a *App) ReloadFile(ctx context.Context) (config.Diff, error) {
	if a.opts.LoadConfig == nil {
		return config.Diff{}, fmt.Errorf("%w: no config file (serve runs its built-in cameras)", api.ErrReloadConfig)
	}
	next, err := a.opts.LoadConfig()
	if err != nil {
		return config.Diff{}, fmt.Errorf("%w: %w", api.ErrReloadConfig, err)
	}
	return a.Reload(ctx, next)
}

// reloadHandler is the API's reload, when this process runs cameras and has a config file.
func (a *App) reloadHandler() func(context.Context) (config.Diff, error) {
	if a.fleet == nil || a.opts.LoadConfig == nil {
		return nil
	}
	return a.ReloadFile
}
