package app

import (
	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/clip"
	"github.com/mvwatch/mvwatch/internal/natsbus"
)

// newClips builds the worker's event clip recorder (config clips section) and registers its
// metrics; nil when clips are off. The clips live beside the event store (clips.dir); on NATS each
// stored clip is also put into the clip bucket (natsbus.ClipsBucket), where an events node reads it.
func (a *App) newClips() error {
	cfg := a.cfg.Clips.WithDefaults()
	if !cfg.IsEnabled() {
		return nil
	}
	m, err := clip.NewMetrics(a.opts.Registry)
	if err != nil {
		return err
	}
	opts := clip.Options{Config: cfg, Dir: cfg.DirFor(a.cfg.Store.Path), Metrics: m, Logger: a.log}
	if b := a.clipBucket(); b != nil {
		opts.OnStored = func(id, camera string) { b.Submit(id, camera) }
	}
	a.clips, err = clip.New(opts)
	return err
}

// startClips opens the clip store and starts its writer, before the cameras record into it; it is
// closed after them (closers run in reverse), so the clips of their last events are written. On
// NATS it starts the clip bucket's uploads (the bus closes them after the App).
func (a *App) startClips() error {
	if a.clips == nil {
		return nil
	}
	if err := a.clips.Start(); err != nil {
		return err
	}
	a.closers = append(a.closers, a.clips.Close)
	if b := a.clipBucket(); b != nil {
		b.StartUploads(a.clips.Store().Open)
	}
	return nil
}

// clipBucket is the NATS clip bucket when the bus carries one (natsbus.Bus opened with clips).
func (a *App) clipBucket() *natsbus.Clips {
	if b, ok := a.bus.(interface{ Clips() *natsbus.Clips }); ok {
		return b.Clips()
	}
	return nil
}

// clipReader is the API's view of the clips: this process's clip store (a worker in it), then the
// NATS clip bucket (the other workers' clips; the only source of an events-only node).
func (a *App) clipReader() api.ClipReader {
	var local, bucket api.ClipReader
	if a.clips != nil && a.clips.Store() != nil {
		local = a.clips.Store()
	}
	if b := a.clipBucket(); b != nil {
		bucket = b
	}
	return api.FirstClips(local, bucket)
}

// Clips returns the event clip recorder (nil without a worker or with clips off).
func (a *App) Clips() *clip.Service { return a.clips }
