package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Diff is what changed between two validated configs, as a reload applies it: cameras added, removed
// and changed (compared after defaults, so a change of the top-level gate changes every camera that
// does not override it), and the other top-level sections that differ, by their YAML names.
type Diff struct {
	Added    []Camera `json:"added,omitempty"`
	Removed  []string `json:"removed,omitempty"`
	Changed  []Camera `json:"changed,omitempty"`
	Sections []string `json:"sections,omitempty"`
}

// Compare returns the difference from old to next. Camera order does not matter; names identify
// cameras.
func Compare(old, next *Config) Diff {
	var d Diff
	before := map[string]Camera{}
	for _, c := range old.Cameras {
		before[c.Name] = c
	}
	seen := map[string]bool{}
	for _, c := range next.Cameras {
		seen[c.Name] = true
		prev, ok := before[c.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, c)
		case !reflect.DeepEqual(prev, c):
			d.Changed = append(d.Changed, c)
		}
	}
	for _, c := range old.Cameras {
		if !seen[c.Name] {
			d.Removed = append(d.Removed, c.Name)
		}
	}
	ov, nv := reflect.ValueOf(*old), reflect.ValueOf(*next)
	t := ov.Type()
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name == "cameras" {
			continue
		}
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			d.Sections = append(d.Sections, name)
		}
	}
	return d
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && len(d.Sections) == 0
}

// String is a one-line report: "cameras added [a], removed [b], changed [c]; sections changed [log]".
// It names cameras and sections only, never a URL.
func (d Diff) String() string {
	if d.Empty() {
		return "no change"
	}
	names := func(cs []Camera) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Name
		}
		return out
	}
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"added", names(d.Added)}, {"removed", d.Removed}, {"changed", names(d.Changed)}} {
		if len(p.names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", p.what, p.names))
		}
	}
	s := ""
	if len(parts) > 0 {
		s = "cameras " + strings.Join(parts, ", ")
	}
	if len(d.Sections) > 0 {
		if s != "" {
			s += "; "
		}
		s += fmt.Sprintf("sections changed %v", d.Sections)
	}
	return s
}
