package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const zoneCamera = "cameras:\n  - name: a\n    url: rtsp://h/x\n"

// zoneErrorCases are invalid zones and masks and the exact problem each must report; they seed
// FuzzZones.
var zoneErrorCases = []struct{ name, in, want string }{
	{"self-intersecting", zoneCamera + "    zones:\n      - name: drive\n        polygon: [[0.1, 0.1], [0.5, 0.1], [0.9, 0.9]]\n" +
		"      - name: bow\n        polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]\n",
		`c.yaml:8: cameras[0].zones[1].polygon: self-intersecting at edge 2 (crosses edge 0)`},
	{"outside", zoneCamera + "    zones:\n      - name: drive\n        polygon: [[0.1, 0.1], [1.5, 0.1], [0.9, 0.9]]\n",
		`c.yaml:6: cameras[0].zones[0].polygon: point 1 (1.5, 0.1) outside [0,1]`},
	{"too few", zoneCamera + "    zones:\n      - name: drive\n        polygon: [[0.1, 0.1], [0.5, 0.1]]\n",
		`c.yaml:6: cameras[0].zones[0].polygon: fewer than 3 points: 2 points, want at least 3`},
	{"empty", zoneCamera + "    zones:\n      - name: drive\n        polygon: []\n",
		`c.yaml:6: cameras[0].zones[0].polygon: required: 3 or more [x, y] points in [0,1]`},
	{"zero area", zoneCamera + "    zones:\n      - name: drive\n        polygon: [[0, 0], [0.5, 0.5], [1, 1]]\n",
		`c.yaml:6: cameras[0].zones[0].polygon: zero area (all points on one line)`},
	{"not a pair", zoneCamera + "    zones:\n      - name: drive\n        polygon: [[0, 0], [0.5], [1, 1]]\n",
		`c.yaml:6: cameras[0].zones[0].polygon[1]: want [x, y], got 1 numbers`},
	{"no name", zoneCamera + "    zones:\n      - polygon: [[0, 0], [1, 0], [1, 1]]\n",
		`c.yaml:5: cameras[0].zones[0].name: required`},
	{"dup name", zoneCamera + "    zones:\n      - name: d\n        polygon: [[0, 0], [1, 0], [1, 1]]\n      - name: d\n        polygon: [[0, 0], [1, 0], [1, 1]]\n",
		`c.yaml:7: cameras[0].zones[1].name: duplicate zone name "d" (also zones[0])`},
	{"dwell", zoneCamera + "    zones:\n      - name: d\n        polygon: [[0, 0], [1, 0], [1, 1]]\n        dwell: 2h\n",
		`c.yaml:7: cameras[0].zones[0].dwell: must be 0 to 1h0m0s, not 2h0m0s`},
	{"mask", zoneCamera + "    masks:\n      - [[0, 0], [1, 0], [1, 1]]\n      - [[0, 0], [-0.2, 0], [1, 1]]\n",
		`c.yaml:6: cameras[0].masks[1]: point 1 (-0.2, 0) outside [0,1]`},
}

func TestZonesRefused(t *testing.T) {
	for _, tc := range zoneErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.in), Options{})
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, strings.Split(err.Error(), "\n"), tc.want, "all problems:\n%v", err)
		})
	}
}

func TestZonesParse(t *testing.T) {
	in := zoneCamera + "    zones:\n      - name: driveway\n        polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]\n" +
		"        labels: [object_right, object_left]\n        dwell: 5s\n" +
		"    masks:\n      - [[0.7, 0], [1, 0], [1, 0.3], [0.7, 0.3]]\n"
	cfg, err := Parse("c.yaml", []byte(in), Options{})
	require.NoError(t, err)
	cam := cfg.Cameras[0]
	require.Len(t, cam.Zones, 1)
	z := cam.Zones[0]
	require.Equal(t, "driveway", z.Name)
	require.Equal(t, []string{"object_right", "object_left"}, z.Labels)
	require.Equal(t, "5s", z.Dwell.String())
	require.InDelta(t, 0.5, z.Shape().Area(), 1e-12)
	require.Len(t, cam.MaskShapes(), 1)
	require.True(t, cam.MaskShapes()[0].Contains(0.8, 0.1))

	// The API path: Camera.Validate names the field relative to the camera.
	c := Camera{Name: "x", URL: "rtsp://h/x", Zones: []Zone{{Name: "z", Polygon: [][]float64{{0, 0}, {1, 1}, {1, 0}, {0, 1}}}}}
	require.EqualError(t, c.Validate(DefaultGate()), "zones[0].polygon: self-intersecting at edge 2 (crosses edge 0)")
}

// FuzzZones parses configs with fuzzed zones and masks: no panic, and every accepted camera's zones and
// masks have valid shapes.
func FuzzZones(f *testing.F) {
	for _, tc := range zoneErrorCases {
		f.Add(tc.in)
	}
	f.Add(zoneCamera + "    zones:\n      - name: d\n        polygon: [[0, 0], [1, 0], [1, 1]]\n")
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := Parse("c.yaml", []byte(in), Options{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for _, cam := range cfg.Cameras {
			for _, z := range cam.Zones {
				if z.Shape() == nil {
					t.Fatalf("accepted zone %q has no valid shape", z.Name)
				}
			}
			if len(cam.MaskShapes()) != len(cam.Masks) {
				t.Fatal("accepted mask without a valid shape")
			}
		}
	})
}
