package app

import (
	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/clip"
)

// newClips builds the worker's event clip recorder (config clips section) and registers its
// metrics; nil when clips are off. The clips live beside the event store (clips.dir).
func (a *App) newClips() error {
	cfg := a.cfg.Clips.WithDefaults()
	if !cfg.IsEnabled() {
		return nil
	}
	m, err := clip.NewMetrics(a.opts.Registry)
	if err != nil {
		return err
	}
	a.clips, err = clip.New(clip.Options{Config: cfg, Dir: cfg.DirFor(a.cfg.Store.Path), Metrics: m, Logger: a.log})
	return err
}

// startClips opens the clip store and starts its writer, before the cameras record into it; it is
// closed after them (closers run in reverse), so the clips of their last events are written.
func (a *App) startClips() error {
	if a.clips == nil {
		return nil
	}
	if err := a.clips.Start(); err != nil {
		return err
	}
	a.closers = append(a.closers, a.clips.Close)
	return nil
}

// clipReader is the API's view of the clip store: the worker's, when it runs in this process.
func (a *App) clipReader() api.ClipReader {
	if a.clips == nil || a.clips.Store() == nil {
		return nil // the events role of a split deployment: clips stay on the worker
	}
	return a.clips.Store()
}

// Clips returns the event clip recorder (nil without a worker or with clips off).
func (a *App) Clips() *clip.Service { return a.clips }
