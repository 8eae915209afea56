package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
)

// rtspDecodeOptions configures decodeRTSP.
type rtspDecodeOptions struct {
	url       string
	camera    string
	transport string
	// queue is the client's access-unit queue (0: its default); full, it drops and counts.
	queue   int
	decoder demux.DecoderConfig
	// maxTime stops after this long (0: no limit).
	maxTime time.Duration
	// idle ends the run once access units have arrived and then none came for this long, which is how
	// a finite stream (a file served over RTSP) ends. 0 disables it: the client reconnects forever.
	idle time.Duration
	log  *slog.Logger
	// onState, when set, sees every client state change.
	onState func(ingest.ClientState)
}

// decodeRTSP pulls an RTSP stream with ingest.Client and decodes it with demux.Decoder, calling fn for
// every frame in output order, until ctx ends, maxTime passes, the stream goes idle, the client fails for
// good, or fn returns an error. The decoder is flushed at the end, so the last frames are not lost.
func decodeRTSP(ctx context.Context, o rtspDecodeOptions, fn func(*media.Frame) error) error {
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.maxTime)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.log == nil {
		o.log = slog.Default()
	}

	var (
		mu      sync.Mutex // guards dec and lastAU between the client's delivery goroutine and this one
		dec     *demux.Decoder
		lastAU  time.Time
		fnErr   error
		decErrs int
	)
	onAU := func(au media.AccessUnit) {
		mu.Lock()
		defer mu.Unlock()
		lastAU = time.Now()
		if fnErr != nil {
			return
		}
		if dec == nil {
			d, err := demux.NewDecoder(au.Codec, o.decoder)
			if err != nil {
				fnErr = err
				cancel(err)
				return
			}
			dec = d
		}
		err := dec.Decode(au, fn)
		switch {
		case err == nil, errors.Is(err, demux.ErrNoRandomAccess):
		case errors.Is(err, demux.ErrDecode):
			decErrs++
			if decErrs <= 3 {
				o.log.Warn("decode error, access unit skipped", "camera", o.camera, "err", err)
			}
		default:
			fnErr = err
			cancel(err)
		}
	}
	failed := make(chan ingest.ClientState, 1)
	client := ingest.NewClient(ingest.ClientConfig{
		URL:          o.url,
		Camera:       o.camera,
		Transport:    o.transport,
		QueueSize:    o.queue,
		OnAccessUnit: onAU,
		Log:          o.log,
		OnStateChange: func(st ingest.ClientState) {
			if o.onState != nil {
				o.onState(st)
			}
			if st.State == ingest.StateFailed {
				select {
				case failed <- st:
				default:
				}
			}
		},
	})
	client.Start()

	var runErr error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case st := <-failed:
			runErr = fmt.Errorf("camera %s: %s", st.URL, st.Reason)
			break loop
		case <-tick.C:
			if o.idle <= 0 {
				continue
			}
			mu.Lock()
			idle := !lastAU.IsZero() && time.Since(lastAU) > o.idle
			mu.Unlock()
			if idle {
				break loop
			}
		}
	}
	client.Close() // after Close no delivery runs, so dec is ours alone
	if dec != nil {
		defer dec.Close()
		if fnErr == nil {
			fnErr = dec.Flush(fn)
		}
	}
	if fnErr != nil {
		return fnErr
	}
	if runErr != nil {
		return runErr
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return context.Cause(ctx)
	}
	return nil
}
