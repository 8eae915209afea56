package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/internal/zone"
)

// MaxZones bounds a camera's zones, and its masks.
const MaxZones = 32

// Zone is a named area of one camera's picture: events say which zones their motion touched, a zone
// with labels restricts which events alert, and objects entering, leaving or staying in it raise zone
// events.
type Zone struct {
	// Name identifies the zone in events and the API filter zone=: 1 to 64 of [A-Za-z0-9_-], unique
	// in the camera. Required.
	Name string `yaml:"name" json:"name"`
	// Polygon is the zone's outline in normalised picture coordinates, [[x, y], ...] with x and y in
	// [0, 1] (0, 0 the top-left corner): 3 to 64 points of a simple polygon enclosing some area.
	// Required.
	Polygon [][]float64 `yaml:"polygon" json:"polygon"`
	// Labels restricts alerts: when any zone of the camera has labels, only events whose label is in
	// the labels of a zone they touched alert (webhooks); the others are stored and shown without
	// alerting. It defaults to empty: the zone names where events happen and restricts nothing.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// Dwell is how long an object must stay in the zone to raise a dwell event, at most 1h. It defaults
	// to 0: no dwell events.
	Dwell Duration `yaml:"dwell" json:"dwell,omitempty"`
}

// Shape returns the zone's polygon; call it on a validated zone (an invalid one gives nil).
func (z Zone) Shape() zone.Polygon {
	p, err := zone.FromPairs(z.Polygon)
	if err != nil {
		return nil
	}
	return p
}

// MaskShapes returns the camera's mask polygons; call it on a validated camera (invalid masks are left
// out).
func (c Camera) MaskShapes() []zone.Polygon {
	var out []zone.Polygon
	for _, m := range c.Masks {
		if p, err := zone.FromPairs(m); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// zoneProblems validates a camera's zones and masks. Field names are relative to the camera.
func zoneProblems(zones []Zone, masks [][][]float64) []fieldProblem {
	var out []fieldProblem
	add := func(f, format string, a ...any) { out = append(out, fieldProblem{f, fmt.Sprintf(format, a...)}) }
	if len(zones) > MaxZones {
		add("zones", "at most %d zones, not %d", MaxZones, len(zones))
	}
	if len(masks) > MaxZones {
		add("masks", "at most %d masks, not %d", MaxZones, len(masks))
	}
	names := map[string]int{}
	for i, z := range zones {
		path := fmt.Sprintf("zones[%d]", i)
		switch {
		case z.Name == "":
			add(path+".name", "required")
		case !ValidName(z.Name):
			add(path+".name", "must be 1 to 64 of A-Z a-z 0-9 _ -, not %q", z.Name)
		default:
			if j, dup := names[z.Name]; dup {
				add(path+".name", "duplicate zone name %q (also zones[%d])", z.Name, j)
			}
			names[z.Name] = i
		}
		out = append(out, polygonProblems(path+".polygon", z.Polygon)...)
		for j, l := range z.Labels {
			if err := checkText(l, 64, ""); err != nil || l == "" {
				add(fmt.Sprintf("%s.labels[%d]", path, j), "must be 1 to 64 bytes of UTF-8 text")
			}
		}
		if z.Dwell < 0 || z.Dwell.D() > maxDwell {
			add(path+".dwell", "must be 0 to %v, not %v", maxDwell, z.Dwell)
		}
	}
	for i, m := range masks {
		out = append(out, polygonProblems(fmt.Sprintf("masks[%d]", i), m)...)
	}
	return out
}

// maxDwell bounds a zone's dwell time.
const maxDwell = time.Hour

// polygonProblems validates one polygon at path: a point that is not [x, y] is named by its index
// (path[i]); the polygon's own problems (outside [0,1], fewer than 3 points, self-intersecting, zero
// area) by path.
func polygonProblems(path string, pairs [][]float64) []fieldProblem {
	if len(pairs) == 0 {
		return []fieldProblem{{path, "required: 3 or more [x, y] points in [0,1]"}}
	}
	for i, xy := range pairs {
		if len(xy) != 2 {
			return []fieldProblem{{fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("want [x, y], got %d numbers", len(xy))}}
		}
	}
	if _, err := zone.FromPairs(pairs); err != nil {
		return []fieldProblem{{path, strings.TrimPrefix(err.Error(), zone.ErrInvalid.Error()+": ")}}
	}
	return nil
}
