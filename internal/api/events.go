package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mvwatch/mvwatch/internal/event"
)

// The times an event query may name: those whose Unix nanoseconds fit the event IDs.
var (
	minQueryTime = time.Unix(0, 0).UTC()
	maxQueryTime = time.Unix(0, math.MaxInt64).UTC().Truncate(time.Second)
)

// parseEventQuery reads the query parameters shared by /events and /events/live.
func parseEventQuery(r *http.Request) (event.Query, error) {
	v := r.URL.Query()
	q := event.Query{Camera: v.Get("camera"), Label: v.Get("label"), Zone: v.Get("zone"), Class: v.Get("class"), Cursor: v.Get("cursor")}
	if q.Class != "" && !slices.Contains(event.TrackClasses, q.Class) {
		return q, fmt.Errorf("class: want one of %v, got %q", event.TrackClasses, q.Class)
	}
	var err error
	parseTime := func(name string) time.Time {
		s := v.Get(name)
		if s == "" || err != nil {
			return time.Time{}
		}
		t, e := time.Parse(time.RFC3339Nano, s)
		if e != nil {
			err = fmt.Errorf("%s: want an RFC 3339 time such as 2026-11-26T10:00:00Z, got %q", name, s)
		} else if t.Before(minQueryTime) || t.After(maxQueryTime) {
			// Event IDs hold Unix nanoseconds: outside this range a bound would wrap and match everything.
			err = fmt.Errorf("%s: must be between %s and %s, got %q", name,
				minQueryTime.Format(time.RFC3339), maxQueryTime.Format(time.RFC3339), s)
		}
		return t
	}
	q.From, q.To = parseTime("from"), parseTime("to")
	if err != nil {
		return q, err
	}
	if s := v.Get("min_score"); s != "" {
		f, e := strconv.ParseFloat(s, 64)
		if e != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return q, fmt.Errorf("min_score: want a number from 0 to 1, got %q", s)
		}
		q.MinScore = f
	}
	if s := v.Get("limit"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("limit: want 1 to 1000, got %q", s)
		}
		q.Limit = n
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Ascending = true
	default:
		return q, fmt.Errorf("order: want asc or desc, got %q", v.Get("order"))
	}
	if q.Cursor != "" && !event.ValidID(q.Cursor) {
		return q, fmt.Errorf("cursor: not a cursor from a previous page: %q", q.Cursor)
	}
	return q, nil
}

func (a *API) queryEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := a.opts.Events.Query(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for i := range page.Events {
		a.clipRef(&page.Events[i])
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !event.ValidID(id) {
		writeError(w, http.StatusNotFound, "no event "+strconv.Quote(id))
		return
	}
	ev, err := a.opts.Events.Get(id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.clipRef(&ev)
	writeJSON(w, http.StatusOK, ev)
}

// clipRef sets the event's clip_ref when its clip is stored.
func (a *API) clipRef(ev *event.Event) {
	if a.opts.Clips != nil && a.opts.Clips.Has(ev.ID) {
		ev.ClipRef = event.ClipPath(ev.ID)
	}
}

// clip serves the event's MP4 clip with Range support (http.ServeContent); 404 with a JSON error while
// it is still being recorded (the post-roll, the remux) or when it has none.
func (a *API) clip(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !event.ValidID(id) {
		writeError(w, http.StatusNotFound, "no event "+strconv.Quote(id))
		return
	}
	if a.opts.Clips == nil {
		writeError(w, http.StatusNotFound, "no clip for event "+id+": clips are not recorded here")
		return
	}
	f, modTime, err := a.opts.Clips.OpenClip(r.Context(), id)
	if errors.Is(err, event.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no clip for event "+id+" (yet: it is stored a post-roll after the event ends)")
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	http.ServeContent(w, r, id+".mp4", modTime, f)
}

func (a *API) keyframe(w http.ResponseWriter, r *http.Request) {
	a.image(w, r, "image/jpeg", a.opts.Events.Keyframe)
}

// thumbnail serves the event's illustrative PNG; 404 until the thumbnail stage has drawn one.
func (a *API) thumbnail(w http.ResponseWriter, r *http.Request) {
	a.image(w, r, "image/png", a.opts.Events.Thumbnail)
}

func (a *API) image(w http.ResponseWriter, r *http.Request, contentType string, get func(id string) ([]byte, error)) {
	id := r.PathValue("id")
	if !event.ValidID(id) {
		writeError(w, http.StatusNotFound, "no event "+strconv.Quote(id))
		return
	}
	img, err := get(id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(img)
}
