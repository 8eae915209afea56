package config

import "slices"

// Overlay is a set of run-time changes to the cameras (made through the API and persisted by the
// store): cameras added or replaced by name, and names removed.
type Overlay struct {
	Cameras map[string]Camera
	Removed map[string]bool
}

// Apply returns a copy of c whose cameras are c's with o applied: a camera of o replaces the file's
// of the same name or is added after them (in name order); a removed name is left out. A camera
// that takes defaults gets c's (its gate falls back to c's top-level gate).
func (o Overlay) Apply(c *Config) *Config {
	out := *c
	out.Cameras = nil
	seen := map[string]bool{}
	for _, cam := range c.Cameras {
		seen[cam.Name] = true
		if o.Removed[cam.Name] {
			continue
		}
		if oc, ok := o.Cameras[cam.Name]; ok {
			cam = oc
		}
		out.Cameras = append(out.Cameras, cam)
	}
	var added []string
	for name := range o.Cameras {
		if !seen[name] && !o.Removed[name] {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	for _, name := range added {
		out.Cameras = append(out.Cameras, o.Cameras[name])
	}
	return &out
}
