package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/livehub"
)

// liveEvents streams events as Server-Sent Events: "event: event" with the event.Event JSON as data and
// the event ID as id; "event: update" with the whole event.Event JSON again (no id) when a caption or
// thumbnail was added to a stored event; "event: dropped" when this slow client missed events; and
// keep-alive comments. A Last-Event-ID header replays the stored events that started after that event
// first.
func (a *API) liveEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sub := a.opts.Hub.Subscribe(q.Matches)
	defer sub.Close()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, "retry: 3000\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}

	sent := map[string]bool{}
	if last := r.Header.Get("Last-Event-ID"); event.ValidID(last) {
		page, err := a.opts.Events.Query(event.Query{Cursor: last, Ascending: true, Camera: q.Camera, Label: q.Label,
			Zone: q.Zone, Class: q.Class, MinScore: q.MinScore, Limit: 1000})
		if err == nil {
			for _, ev := range page.Events {
				if writeSSE(w, ev, false) != nil {
					return
				}
				sent[ev.ID] = true
			}
		}
	}

	var reported uint64
	for {
		// Wait for the next event, or a heartbeat's time without one.
		ctx, cancel := context.WithTimeout(r.Context(), a.opts.Heartbeat)
		msg, err := sub.Next(ctx)
		cancel()
		switch {
		case errors.Is(err, livehub.ErrClosed):
			return // the hub closed: the server is shutting down
		case r.Context().Err() != nil:
			return
		case err != nil:
			_, err = io.WriteString(w, ": keep-alive\n\n")
		case sent[msg.Event.ID] && !msg.Update:
			continue
		default:
			if d := sub.Dropped(); d != reported {
				reported = d
				_, err = fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", d)
			}
			if err == nil {
				err = writeSSE(w, msg.Event, msg.Update)
			}
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

func writeSSE(w io.Writer, ev event.Event, update bool) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if update {
		// No id: an update must not move the client's Last-Event-ID back to an older event.
		_, err = fmt.Fprintf(w, "event: update\ndata: %s\n\n", data)
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: event\ndata: %s\n\n", ev.ID, data)
	return err
}
