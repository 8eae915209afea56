package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// TestStoreCaptionAndThumbnailUpdates: updates are durable (they survive a reopen), keep the keyframe,
// store the PNG apart from the event, refuse bad input, and retention drops the thumbnail with its event.
func TestStoreCaptionAndThumbnailUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ev.db")
	ctx := context.Background()
	s, err := Open(path, Options{MaxEvents: 2})
	require.NoError(t, err)
	ev := eventtest.New("door", "person", 0.9, eventtest.T0)
	ev.AttachKeyframe(eventtest.JPEG)
	require.NoError(t, s.Publish(ctx, ev))

	got, err := s.SetCaption(ctx, ev.ID, "a person walks in")
	require.NoError(t, err)
	require.Equal(t, "a person walks in", got.Caption)
	pic := eventtest.PNG(t, 32, 32)
	got, err = s.SetThumbnail(ctx, ev.ID, pic)
	require.NoError(t, err)
	require.Equal(t, event.ThumbnailPath(ev.ID), got.ThumbnailRef)
	require.Equal(t, "a person walks in", got.Caption, "one update keeps the other")

	_, err = s.SetCaption(ctx, event.NewEventID(eventtest.T0), "x")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.SetThumbnail(ctx, event.NewEventID(eventtest.T0), pic)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.SetThumbnail(ctx, ev.ID, eventtest.JPEG)
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
	require.Equal(t, eventtest.JPEG, kf)
	_, err = s.Thumbnail(event.NewEventID(eventtest.T0))
	require.ErrorIs(t, err, ErrNotFound)

	// Retention by count drops the oldest event with its thumbnail.
	for i := 1; i <= 2; i++ {
		require.NoError(t, s.Publish(ctx, eventtest.New("door", "car", 0.5, eventtest.T0.Add(time.Duration(i)*time.Minute))))
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
	ev := eventtest.New("door", "person", 0.9, eventtest.T0)
	require.NoError(t, s.Publish(context.Background(), ev))
	require.NoError(t, s.Close())
	_, err = s.SetCaption(context.Background(), ev.ID, "late")
	require.Error(t, err)
	_, err = s.SetThumbnail(context.Background(), ev.ID, eventtest.PNG(t, 4, 4))
	require.Error(t, err)
}
