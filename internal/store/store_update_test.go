package store

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// testPNG encodes a w x h gradient as PNG.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(8 * x), G: uint8(8 * y), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// TestStoreCaptionAndThumbnailUpdates: updates are durable (they survive a reopen), keep the keyframe,
// store the PNG apart from the event, refuse bad input, and retention drops the thumbnail with its event.
func TestStoreCaptionAndThumbnailUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ev.db")
	ctx := context.Background()
	s, err := Open(path, Options{MaxEvents: 2})
	require.NoError(t, err)
	ev := testEvent("door", "person", 0.9, t0)
	ev.AttachKeyframe(testJPEG)
	require.NoError(t, s.Publish(ctx, ev))

	got, err := s.SetCaption(ctx, ev.ID, "a person walks in")
	require.NoError(t, err)
	require.Equal(t, "a person walks in", got.Caption)
	pic := testPNG(t, 32, 32)
	got, err = s.SetThumbnail(ctx, ev.ID, pic)
	require.NoError(t, err)
	require.Equal(t, event.ThumbnailPath(ev.ID), got.ThumbnailRef)
	require.Equal(t, "a person walks in", got.Caption, "one update keeps the other")

	_, err = s.SetCaption(ctx, event.NewEventID(t0), "x")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.SetThumbnail(ctx, event.NewEventID(t0), pic)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.SetThumbnail(ctx, ev.ID, testJPEG)
	require.ErrorIs(t, err, event.ErrInvalidEvent)
	_, err = s.SetCaption(ctx, ev.ID, string(make([]byte, event.MaxCaptionBytes+1)))
	require.ErrorIs(t, err, event.ErrInvalidEvent)
	require.NoError(t, s.Close())

	// Durable: a reopened store has both, and the keyframe is untouched.
	s, err = Open(path, Options{MaxEvents: 2})
	require.NoError(t, err)
	defer s.Close()
	got, err = s.Get(ev.ID)
	require.NoError(t, err)
	require.Equal(t, "a person walks in", got.Caption)
	require.Equal(t, event.ThumbnailPath(ev.ID), got.ThumbnailRef)
	require.Equal(t, event.KeyframePath(ev.ID), got.KeyframeRef)
	b, err := s.Thumbnail(ev.ID)
	require.NoError(t, err)
	require.Equal(t, pic, b)
	kf, err := s.Keyframe(ev.ID)
	require.NoError(t, err)
	require.Equal(t, testJPEG, kf)
	_, err = s.Thumbnail(event.NewEventID(t0))
	require.ErrorIs(t, err, ErrNotFound)

	// Retention by count drops the oldest event with its thumbnail.
	for i := 1; i <= 2; i++ {
		require.NoError(t, s.Publish(ctx, testEvent("door", "car", 0.5, t0.Add(time.Duration(i)*time.Minute))))
	}
	_, err = s.Get(ev.ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Thumbnail(ev.ID)
	require.ErrorIs(t, err, ErrNotFound)
}

// TestStoreUpdateAfterClose: a stage result that arrives after the store closed is an error, not a panic.
func TestStoreUpdateAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ev.db"), Options{})
	require.NoError(t, err)
	ev := testEvent("door", "person", 0.9, t0)
	require.NoError(t, s.Publish(context.Background(), ev))
	require.NoError(t, s.Close())
	_, err = s.SetCaption(context.Background(), ev.ID, "late")
	require.Error(t, err)
	_, err = s.SetThumbnail(context.Background(), ev.ID, testPNG(t, 4, 4))
	require.Error(t, err)
}
