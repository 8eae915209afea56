package track

import (
	"slices"
	"time"

	"github.com/mvwatch/mvwatch/internal/zone"
)

// MaxZones is the most zones a ZoneSet holds (one bit each in a frame's zone mask).
const MaxZones = 64

// Zone is one named zone of a camera.
type Zone struct {
	// Name identifies the zone.
	Name string
	// Shape is its outline in normalised picture coordinates; a valid polygon.
	Shape zone.Polygon
	// Labels, when not empty, are the event labels the zone alerts for (see ZoneSet.Alerts).
	Labels []string
	// Dwell is how long a track must stay in the zone for a dwell event; 0 for none.
	Dwell time.Duration
}

// ZoneSet is a camera's zones. It is immutable after NewZoneSet and safe for concurrent use.
type ZoneSet struct {
	zones      []Zone
	restricted bool // some zone has labels
}

// NewZoneSet returns the set of zones; zones beyond MaxZones are ignored.
func NewZoneSet(zones []Zone) *ZoneSet {
	s := &ZoneSet{zones: slices.Clone(zones[:min(len(zones), MaxZones)])}
	for _, z := range s.zones {
		if len(z.Labels) > 0 {
			s.restricted = true
		}
	}
	return s
}

// Len returns the number of zones (0 for a nil set).
func (s *ZoneSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.zones)
}

// Zone returns zone i.
func (s *ZoneSet) Zone(i int) Zone { return s.zones[i] }

// Names returns the names of the zones whose bits are set in mask, in zone order; nil for none.
func (s *ZoneSet) Names(mask uint64) []string {
	var out []string
	for i := 0; i < s.Len(); i++ {
		if mask&(1<<i) != 0 {
			out = append(out, s.zones[i].Name)
		}
	}
	return out
}

// Alerts reports whether an event with label whose motion touched the zones in mask alerts. When no
// zone has labels every event alerts. Otherwise an event alerts only if a zone it touched lists its
// label: "alert only for object_right in the driveway". Events that touch no zone with labels are
// still stored and shown; they just do not alert.
func (s *ZoneSet) Alerts(mask uint64, label string) bool {
	if s == nil || !s.restricted {
		return true
	}
	for i, z := range s.zones {
		if mask&(1<<i) != 0 && slices.Contains(z.Labels, label) {
			return true
		}
	}
	return false
}
