package evaluate

import "sort"

// Event is one event the pipeline reported, in seconds from the clip's first frame.
type Event struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// overlaps reports whether [a0, a1] and [b0, b1] share time. A zero-length event still overlaps an
// interval that contains it.
func overlaps(a0, a1, b0, b1 float64) bool {
	return a0 <= b1 && b0 <= a1
}

// Counts is the event-level tally of one group (or one model label).
type Counts struct {
	// Events is how many events were reported; Matched how many of them overlap a timeline entry of
	// their own group.
	Events  int `json:"events"`
	Matched int `json:"matched"`
	// Entries is how many timeline entries there are; Found how many of them an event of the same
	// group overlaps.
	Entries int `json:"entries"`
	Found   int `json:"found"`
}

func (c *Counts) add(o Counts) {
	c.Events += o.Events
	c.Matched += o.Matched
	c.Entries += o.Entries
	c.Found += o.Found
}

// Precision is Matched/Events, or -1 when there were no events.
func (c Counts) Precision() float64 { return share(c.Matched, c.Events) }

// Recall is Found/Entries, or -1 when there were no entries.
func (c Counts) Recall() float64 { return share(c.Found, c.Entries) }

// share is num/den, or -1 when den is 0 (nothing to score).
func share(num, den int) float64 {
	if den == 0 {
		return -1
	}
	return float64(num) / float64(den)
}

// ClipResult scores one clip.
type ClipResult struct {
	Clip     string  `json:"clip"`
	Camera   string  `json:"camera"`
	Static   bool    `json:"static"`
	Duration float64 `json:"duration"`
	Events   []Event `json:"events"`
	// Groups holds the counts per group; Labels the precision tally per model label.
	Groups map[string]Counts `json:"groups"`
	Labels map[string]Counts `json:"labels"`
	// Classes holds the object recall per timeline class (person, vehicle, other).
	Classes map[string]Counts `json:"classes"`
	// Quiet is the time no non-nothing timeline entry covers, in seconds; Nuisance is the number of
	// events that lie wholly inside that time (an event nothing in the timeline explains).
	Quiet    float64 `json:"quiet_seconds"`
	Nuisance int     `json:"nuisance"`
	// CameraOnObjects counts camera-motion events on a fixed camera that overlap an object entry and no
	// camera_move entry: a camera-motion label while only objects moved.
	CameraOnObjects int `json:"camera_on_objects"`
	// DuringObjects counts, per label group, the events on a fixed camera that overlap an object entry
	// and no other entry: what the model calls object activity.
	DuringObjects map[string]int `json:"during_objects"`
	// Frames and SkipRatio come from the pipeline run.
	Frames    int     `json:"frames"`
	SkipRatio float64 `json:"skip_ratio"`
}

// ScoreClip matches events against a timeline. An event matches an entry when their intervals overlap
// and the event's label group equals the entry's group.
func ScoreClip(clip Clip, tl *Timeline, events []Event) ClipResult {
	r := ClipResult{Clip: clip.Name, Camera: clip.Camera, Static: clip.Static, Duration: tl.Duration,
		Events: events, Groups: map[string]Counts{}, Labels: map[string]Counts{}, Classes: map[string]Counts{},
		DuringObjects: map[string]int{}}
	if r.Duration <= 0 {
		r.Duration = clip.Duration
	}
	for _, g := range Groups {
		r.Groups[g] = Counts{}
	}
	var active []Entry
	for _, e := range tl.Entries {
		if e.Group() == GroupNone {
			continue
		}
		active = append(active, e)
		inc := Counts{Entries: 1}
		for _, ev := range events {
			if LabelGroup(ev.Label) == e.Group() && overlaps(ev.Start, ev.End, e.Start, e.End) {
				inc.Found = 1
				break
			}
		}
		c := r.Groups[e.Group()]
		c.add(inc)
		r.Groups[e.Group()] = c
		if e.Group() == GroupObject {
			k := r.Classes[e.Class]
			k.add(inc)
			r.Classes[e.Class] = k
		}
	}
	for _, ev := range events {
		g := LabelGroup(ev.Label)
		matched := false
		for _, e := range active {
			if e.Group() == g && overlaps(ev.Start, ev.End, e.Start, e.End) {
				matched = true
				break
			}
		}
		inc := Counts{Events: 1}
		if matched {
			inc.Matched = 1
		}
		if g != GroupNone {
			c := r.Groups[g]
			c.add(inc)
			r.Groups[g] = c
		}
		l := r.Labels[ev.Label]
		l.add(inc)
		r.Labels[ev.Label] = l
		explained, onObject, onOther := false, false, false
		for _, e := range active {
			if overlaps(ev.Start, ev.End, e.Start, e.End) {
				explained = true
				onObject = onObject || e.Group() == GroupObject
				onOther = onOther || e.Group() != GroupObject
			}
		}
		if clip.Camera == "fixed" && onObject && !onOther {
			r.DuringObjects[g]++
		}
		if !explained {
			r.Nuisance++
		}
		if g == GroupCamera && clip.Camera == "fixed" && !matched && onObject {
			r.CameraOnObjects++
		}
	}
	r.Quiet = r.Duration - coveredSeconds(active, r.Duration)
	return r
}

// coveredSeconds is the length of the union of the entries' intervals, clipped to [0, duration].
func coveredSeconds(entries []Entry, duration float64) float64 {
	iv := make([][2]float64, 0, len(entries))
	for _, e := range entries {
		s, t := e.Start, e.End
		if duration > 0 && t > duration {
			t = duration
		}
		if t > s {
			iv = append(iv, [2]float64{s, t})
		}
	}
	sort.Slice(iv, func(i, j int) bool { return iv[i][0] < iv[j][0] })
	total, curS, curE := 0.0, -1.0, -1.0
	for _, x := range iv {
		if x[0] > curE {
			if curE > curS {
				total += curE - curS
			}
			curS, curE = x[0], x[1]
		} else if x[1] > curE {
			curE = x[1]
		}
	}
	if curE > curS {
		total += curE - curS
	}
	return total
}

// Summary aggregates clip results.
type Summary struct {
	Clips   int               `json:"clips"`
	Hours   float64           `json:"hours"`
	Groups  map[string]Counts `json:"groups"`
	Labels  map[string]Counts `json:"labels"`
	Classes map[string]Counts `json:"classes"`
	// StaticHours and StaticEvents cover the clips marked static: every event on them is a nuisance.
	StaticHours  float64 `json:"static_hours"`
	StaticEvents int     `json:"static_events"`
	// QuietHours and Nuisance cover the quiet time of every clip (see ClipResult.Quiet).
	QuietHours float64 `json:"quiet_hours"`
	Nuisance   int     `json:"nuisance"`
	// CameraOnObjects totals ClipResult.CameraOnObjects; FixedClips counts fixed-camera clips.
	CameraOnObjects int            `json:"camera_on_objects"`
	FixedClips      int            `json:"fixed_clips"`
	DuringObjects   map[string]int `json:"during_objects"`
}

// Summarise adds up clip results.
func Summarise(results []ClipResult) Summary {
	s := Summary{Groups: map[string]Counts{}, Labels: map[string]Counts{}, Classes: map[string]Counts{},
		DuringObjects: map[string]int{}}
	for _, g := range Groups {
		s.Groups[g] = Counts{}
	}
	for _, r := range results {
		for g, n := range r.DuringObjects {
			s.DuringObjects[g] += n
		}
		s.Clips++
		s.Hours += r.Duration / 3600
		for g, c := range r.Groups {
			t := s.Groups[g]
			t.add(c)
			s.Groups[g] = t
		}
		for l, c := range r.Labels {
			t := s.Labels[l]
			t.add(c)
			s.Labels[l] = t
		}
		for k, c := range r.Classes {
			t := s.Classes[k]
			t.add(c)
			s.Classes[k] = t
		}
		if r.Static {
			s.StaticHours += r.Duration / 3600
			s.StaticEvents += len(r.Events)
		}
		s.QuietHours += r.Quiet / 3600
		s.Nuisance += r.Nuisance
		s.CameraOnObjects += r.CameraOnObjects
		if r.Camera == "fixed" {
			s.FixedClips++
		}
	}
	return s
}

// PerHour is n events over h hours, or -1 when h is zero.
func PerHour(n int, h float64) float64 {
	if h <= 0 {
		return -1
	}
	return float64(n) / h
}
