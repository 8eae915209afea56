package config

import (
	"fmt"
	"slices"
	"strings"
)

// Camera is one camera.
type Camera struct {
	// Name identifies the camera in the API, metrics and the restream path: 1 to 64 of [A-Za-z0-9_-].
	// Required.
	Name string `yaml:"name" json:"name"`
	// URL is the source: rtsp:// or rtsps:// (CameraSchemes), with a port 1..65535 if one is given.
	// Required. A password or query value in it is never logged or rendered. Recordings (files) are
	// read by the analyze command, not by serve.
	URL string `yaml:"url" json:"url"`
	// Transport is the RTSP transport: "tcp", "udp" or "auto". It defaults to "tcp".
	Transport string `yaml:"transport" json:"transport,omitempty"`
	// Enabled starts the camera. It defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// HWAccel picks the decoder: "none", "auto", "cuda", "vaapi" or "qsv". It defaults to "none".
	// Hardware paths fall back to software when the device is missing.
	HWAccel string `yaml:"hwaccel" json:"hwaccel,omitempty"`
	// Gate overrides fields of the top-level gate for this camera.
	Gate Gate `yaml:"gate" json:"gate"`
	// Zone names the place the camera watches ("loading bay"); captions mention it. UTF-8 text of at
	// most MaxZoneBytes bytes without '|', control or bidirectional-control characters. It defaults to
	// empty (no place named).
	Zone string `yaml:"zone" json:"zone,omitempty"`
	// Scene is what thumbnails draw behind the event: "street", "driveway" or "park". It defaults to
	// empty, which draws a street.
	Scene string `yaml:"scene" json:"scene,omitempty"`
	// Zones are named areas of the picture (see Zone). It defaults to none.
	Zones []Zone `yaml:"zones" json:"zones,omitempty"`
	// Masks are polygons, [[x, y], ...] in normalised coordinates like a zone's, whose motion is
	// ignored: the gate, the model and the tracker see no motion inside them (a tree, the road beyond
	// the fence, a timestamp overlay). It defaults to none.
	Masks [][][]float64 `yaml:"masks" json:"masks,omitempty"`
}

// MaxZoneBytes bounds a camera's zone text.
const MaxZoneBytes = 64

// Scenes lists the camera scenes the thumbnail model draws.
var Scenes = []string{"street", "driveway", "park"}

// CameraSchemes lists the URL schemes a camera may use.
var CameraSchemes = []string{"rtsp", "rtsps"}

// Camera defaults.
const (
	DefaultTransport = "tcp"
	DefaultHWAccel   = "none"
)

// IsEnabled reports whether the camera should run (nil means yes).
func (c Camera) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

func (c *Camera) applyDefaults(gate Gate) {
	setStr(&c.Transport, DefaultTransport)
	setStr(&c.HWAccel, DefaultHWAccel)
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	c.Gate = c.Gate.WithDefaults(gate)
}

// Validate applies the camera defaults (inheriting gate settings from gate) and checks c, as the
// config file does; the API uses it for cameras added at run time. The error wraps ErrInvalid and
// lists every problem, one "field: message" per line.
func (c *Camera) Validate(gate Gate) error {
	c.applyDefaults(gate)
	p := &problems{}
	p.addAll("", c.problems())
	return p.err()
}

// CheckCameraURL checks a camera URL as validation does: rtsp:// or rtsps://, a host, a port
// 1..65535 if given. A file:// URL is refused with a pointer to the analyze command.
func CheckCameraURL(raw string) error {
	return checkURL(raw, CameraSchemes...)
}

func validateCameras(p *problems, cams []Camera, policy CameraPolicy) {
	names := map[string]int{}
	for i, cam := range cams {
		path := fmt.Sprintf("cameras[%d]", i)
		p.addAll(path, cam.problems())
		if CheckCameraURL(cam.URL) == nil {
			if err := policy.CheckURL(cam.URL); err != nil {
				p.bad(path+".url", "%v", err)
			}
		}
		if j, dup := names[cam.Name]; dup && cam.Name != "" {
			p.bad(path+".name", "duplicate camera name %q (also cameras[%d])", cam.Name, j)
		}
		names[cam.Name] = i
	}
}

// problems validates a camera whose defaults have been applied. Field names are YAML keys.
func (c Camera) problems() []fieldProblem {
	var out []fieldProblem
	add := func(f, format string, a ...any) { out = append(out, fieldProblem{f, fmt.Sprintf(format, a...)}) }
	if c.Name == "" {
		add("name", "required")
	} else if !ValidName(c.Name) {
		add("name", "must be 1 to 64 of A-Z a-z 0-9 _ -, not %q", c.Name)
	}
	if err := CheckCameraURL(c.URL); err != nil {
		add("url", "%v", err)
	}
	switch c.Transport {
	case "tcp", "udp", "auto":
	default:
		add("transport", "must be tcp, udp or auto, not %q", c.Transport)
	}
	switch c.HWAccel {
	case "none", "auto", "cuda", "vaapi", "qsv":
	default:
		add("hwaccel", "must be none, auto, cuda, vaapi or qsv, not %q", c.HWAccel)
	}
	if len(c.Zone) > MaxZoneBytes {
		add("zone", "must be at most %d bytes, not %d", MaxZoneBytes, len(c.Zone))
	}
	if checkText(c.Zone, 0, "|") != nil {
		// Control characters include the bidirectional controls (U+202A..U+202E, U+2066..U+2069, ...).
		add("zone", "must be UTF-8 text without '|' or control characters")
	}
	if c.Scene != "" && !slices.Contains(Scenes, c.Scene) {
		add("scene", "must be %s, not %q", strings.Join(Scenes, ", "), c.Scene)
	}
	out = append(out, zoneProblems(c.Zones, c.Masks)...)
	for _, g := range c.Gate.problems() {
		out = append(out, fieldProblem{"gate." + g.field, g.msg})
	}
	return out
}
