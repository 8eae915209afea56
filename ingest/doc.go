// Package ingest brings coded video into mvwatch: RTSP client sessions with reconnect and backoff, and
// raw Annex-B H.264/H.265 sources. It deals in access units (media.AccessUnit, one coded picture each)
// and never decodes; decoding belongs to package demux, and internal/source joins the two.
//
// The pieces:
//
//   - Client pulls one H.264 (or H.265) stream over TCP, UDP or auto, hands AccessUnits in order to a
//     callback from one goroutine through a bounded queue that drops and counts, and keeps going when the
//     camera goes away: capped exponential backoff with jitter, a stall timeout, and a readable
//     ClientState (connecting, streaming, backoff, failed with a reason, counters). Secrets in the
//     URL (its password, secret-looking query values) are never logged or shown: log lines, state
//     URLs and reasons and returned errors go through internal/redact.
//   - AnnexBSource reads raw H.264 (or H.265) streams and gives each picture its PTS from the picture
//     order count; the test camera (internal/testcam) serves one over RTSP.
//
// Republishing cameras to viewers is egress, in internal/restream.
package ingest
