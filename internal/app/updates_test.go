package app

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// TestLiveUpdatesInStoreOrder: when a caption and a thumbnail land on the same event at the same
// time, the live updates arrive in the order the store wrote them, so the last update of every event
// carries both (a racing thumbnail update without the caption must never come last).
func TestLiveUpdatesInStoreOrder(t *testing.T) {
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{})
	defer svc.Close()
	sub := svc.hub.Subscribe(func(event.Event) bool { return true })
	defer sub.Close()

	const n = 60
	png := []byte("\x89PNG\r\n\x1a\n thumbnail")
	var ids []string
	start := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	for i := range n {
		ev := event.Event{ID: event.NewEventID(start.Add(time.Duration(i) * time.Second)), Camera: "door", Label: "object_left",
			Score: 0.9, Start: start.Add(time.Duration(i) * time.Second), End: start.Add(time.Duration(i)*time.Second + time.Second)}
		require.NoError(t, svc.store.Publish(context.Background(), ev))
		ids = append(ids, ev.ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(2)
		go func() { defer wg.Done(); svc.onCaption(id, "an object crosses") }()
		go func() { defer wg.Done(); svc.onThumbnail(id, png) }()
	}
	wg.Wait()

	last := map[string]event.Event{}
	for range 2 * n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msg, err := sub.Next(ctx)
		cancel()
		require.NoError(t, err)
		require.True(t, msg.Update)
		if prev, ok := last[msg.Event.ID]; ok {
			require.NotEmpty(t, msg.Event.Caption+msg.Event.ThumbnailRef)
			require.False(t, prev.Caption != "" && msg.Event.Caption == "", "an update lost the caption an earlier one had")
			require.False(t, prev.ThumbnailRef != "" && msg.Event.ThumbnailRef == "", "an update lost the thumbnail an earlier one had")
		}
		last[msg.Event.ID] = msg.Event
	}
	for _, id := range ids {
		require.Equal(t, "an object crosses", last[id].Caption, id)
		require.NotEmpty(t, last[id].ThumbnailRef, id)
	}
}
