package pipeline

import (
	"image"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/track"
)

// Zone event labels: a track entering, leaving or staying in a zone (issue 14). They are events like the
// model's, with Zones naming the zone and Tracks the object; a zone with labels alerts for them only
// when it lists them.
const (
	LabelZoneEnter = "zone_enter"
	LabelZoneLeave = "zone_leave"
	LabelZoneDwell = "zone_dwell"
)

var zoneEventLabels = map[track.ZoneEventKind]string{
	track.Enter: LabelZoneEnter,
	track.Leave: LabelZoneLeave,
	track.Dwell: LabelZoneDwell,
}

// seenTrack is a track seen by the processor and the pushed index of the last frame it was seen in.
type seenTrack struct {
	t  track.Track
	at int
}

// eventTrack converts a track for an event.
func eventTrack(t track.Track) event.EventTrack {
	return event.EventTrack{ID: t.ID, Box: t.Box, Direction: t.Direction(), Speed: t.Speed(), Seconds: t.Dwell().Seconds(),
		Class: t.Class, ClassScore: t.ClassScore}
}

// observeScene runs the camera's scene on the frame's features (masking them in place) and records
// its zones and tracks for the clips to come, at pushed index k. Zone events are submitted at once.
func (p *processor) observeScene(k int, sf *track.Frame) {
	p.zoneRing[k%len(p.zoneRing)] = sf.Zones
	for _, t := range sf.Tracks {
		found := false
		for i := range p.seen {
			if p.seen[i].t.ID == t.ID {
				p.seen[i] = seenTrack{t, k}
				found = true
				break
			}
		}
		if !found {
			p.seen = append(p.seen, seenTrack{t, k})
		}
	}
	kept := p.seen[:0]
	for _, s := range p.seen {
		if s.at > k-p.span {
			kept = append(kept, s)
		}
	}
	p.seen = kept
	if len(sf.Events) == 0 {
		return
	}
	job := jobPool.Get().(*clipJob)
	job.quiet, job.proc = false, nil
	job.zoneEvents = job.zoneEvents[:0]
	for _, ze := range sf.Events {
		ev := event.Event{
			ID: event.NewEventID(p.wall(ze.Since)), Camera: p.camera, Label: zoneEventLabels[ze.Kind], Score: 1,
			Start: p.wall(ze.Since), End: p.wall(ze.PTS), Zones: []string{ze.Name},
			Tracks: []event.EventTrack{eventTrack(ze.Track)},
		}
		if ze.Kind == track.Enter {
			ev.ID, ev.Start = event.NewEventID(p.wall(ze.PTS)), p.wall(ze.PTS)
		}
		ev.NoAlert = !p.scene.Zones().Alerts(1<<ze.Zone, ev.Label)
		job.zoneEvents = append(job.zoneEvents, ev)
	}
	if !p.submit(job) {
		releaseJob(job)
	}
}

// clipScene sets the job's zones and tracks from the frames of the clip ending at pushed index k.
func (p *processor) clipScene(job *clipJob, k int) {
	job.zoneMask = 0
	for j := max(k-p.span+1, 0); j <= k; j++ {
		job.zoneMask |= p.zoneRing[j%len(p.zoneRing)]
	}
	job.tracks = job.tracks[:0]
	for _, s := range p.seen {
		if s.at > k-p.span && len(job.tracks) < event.MaxEventTracks {
			job.tracks = append(job.tracks, eventTrack(s.t))
		}
	}
}

// mergeTracks adds tracks to dst, replacing those of the same id, up to event.MaxEventTracks.
func mergeTracks(dst, tracks []event.EventTrack) []event.EventTrack {
	for _, t := range tracks {
		found := false
		for i := range dst {
			if dst[i].ID == t.ID {
				dst[i] = t
				found = true
				break
			}
		}
		if !found && len(dst) < event.MaxEventTracks {
			dst = append(dst, t)
		}
	}
	return dst
}

// finishZones names an event's zones and decides whether it alerts, from the mask of the zones it
// touched.
func finishZones(ev *event.Event, mask uint64, zones *track.ZoneSet) {
	ev.Zones = zones.Names(mask)
	ev.NoAlert = !zones.Alerts(mask, ev.Label)
}

// remapZones returns mask, a mask of zones in from, as a mask of the zones of the same names in to.
func remapZones(mask uint64, from, to *track.ZoneSet) uint64 {
	var out uint64
	for _, name := range from.Names(mask) {
		for j := 0; j < to.Len(); j++ {
			if to.Zone(j).Name == name {
				out |= 1 << j
			}
		}
	}
	return out
}

// drawBoxes draws each track's box onto the keyframe picture, in place: a 2-pixel red frame.
func drawBoxes(img *image.YCbCr, tracks []event.EventTrack) {
	if img == nil {
		return
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	set := func(x, y int) {
		if x < 0 || y < 0 || x >= w || y >= h {
			return
		}
		img.Y[y*img.YStride+x] = 82
		ci := (y/2)*img.CStride + x/2
		img.Cb[ci], img.Cr[ci] = 90, 240
	}
	for _, t := range tracks {
		x0, y0 := int(t.Box.X0*float64(w)), int(t.Box.Y0*float64(h))
		x1, y1 := int(t.Box.X1*float64(w))-1, int(t.Box.Y1*float64(h))-1
		x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w-1), min(y1, h-1)
		if x1 <= x0 || y1 <= y0 {
			continue
		}
		for d := 0; d < 2; d++ {
			for x := x0; x <= x1; x++ {
				set(x, y0+d)
				set(x, y1-d)
			}
			for y := y0; y <= y1; y++ {
				set(x0+d, y)
				set(x1-d, y)
			}
		}
	}
}
