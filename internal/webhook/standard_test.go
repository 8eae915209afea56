package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// TestSignStandardMatchesReferenceLibrary checks the signer against a signature made by the
// Standard Webhooks reference library (testdata/standard_webhooks.json).
func TestSignStandardMatchesReferenceLibrary(t *testing.T) {
	b, err := os.ReadFile("testdata/standard_webhooks.json")
	require.NoError(t, err)
	var fx struct {
		Secret, ID, Body, Signature string
		Timestamp                   int64
	}
	require.NoError(t, json.Unmarshal(b, &fx))
	require.Equal(t, fx.Signature, SignStandard(fx.Secret, fx.ID, time.Unix(fx.Timestamp, 0), []byte(fx.Body)))
	// Another timestamp, body or key signs differently.
	require.NotEqual(t, fx.Signature, SignStandard(fx.Secret, fx.ID, time.Unix(fx.Timestamp+1, 0), []byte(fx.Body)))
	require.NotEqual(t, fx.Signature, SignStandard(fx.Secret, fx.ID, time.Unix(fx.Timestamp, 0), []byte(fx.Body+" ")))
	require.NotEqual(t, fx.Signature, SignStandard("other", fx.ID, time.Unix(fx.Timestamp, 0), []byte(fx.Body)))
}

// TestStandardHeadersAcrossRetriesAndPublicURL: every attempt carries the same webhook-id, a fresh
// webhook-timestamp and a signature over that timestamp and the body received; with PublicURL the
// refs are absolute.
func TestStandardHeadersAcrossRetriesAndPublicURL(t *testing.T) {
	srv := newHookServer(t, 2, http.StatusServiceUnavailable)
	var clock time.Time
	now := func() time.Time { clock = clock.Add(7 * time.Second); return clock }
	clock = time.Unix(1796190000, 0)
	sink := newStarted([]config.Webhook{{Name: "ops", URL: srv.URL, Secret: "whsec_bXZ3YXRjaC10ZXN0LXNpZ25pbmcta2V5LTMyYnl0ZXM=", MaxRetries: intp(5)}},
		Options{InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, PublicURL: "https://nvr.example.com/", Now: now})
	ev := eventtest.New("door", "person", 0.9, eventtest.T0)
	ev.AttachKeyframe(eventtest.JPEG)
	require.NoError(t, sink.Publish(context.Background(), ev))
	require.Eventually(t, func() bool { return len(srv.events()) == 1 }, 10*time.Second, 5*time.Millisecond)
	sink.Close()

	got := srv.events()[0]
	require.Equal(t, "https://nvr.example.com"+event.KeyframePath(ev.ID), got.KeyframeRef)
	srv.mu.Lock()
	h, body := srv.headers[0], srv.bodies[0]
	srv.mu.Unlock()
	require.Equal(t, ev.ID, h.Get("webhook-id"))
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	require.NoError(t, err)
	require.Greater(t, ts, int64(1796190000+7), "the delivered attempt was not the first: its timestamp is its own")
	require.Equal(t, SignStandard("whsec_bXZ3YXRjaC10ZXN0LXNpZ25pbmcta2V5LTMyYnl0ZXM=", ev.ID, time.Unix(ts, 0), body), h.Get("webhook-signature"))
}
