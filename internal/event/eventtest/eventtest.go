// Package eventtest holds the event fixtures the event service's tests share. Only tests import it.
package eventtest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/internal/event"
)

// T0 is the tests' reference time.
var T0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// JPEG is the start of a JPEG file; stores only check the magic bytes.
var JPEG = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 0xFF, 0xD9}

// New returns a valid two-second event of camera cam starting at start.
func New(cam, label string, score float64, start time.Time) event.Event {
	return event.Event{ID: event.NewEventID(start), Camera: cam, Label: label, Score: score, Start: start,
		End: start.Add(2 * time.Second), ExitStage: 1}
}

// PNG encodes a w x h gradient as PNG.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(8 * x), G: uint8(8 * y), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
