// Package ingest brings coded video into mvwatch: RTSP client sessions with reconnect and backoff,
// the built-in test camera (an RTSP server), and the restream server. It deals in access units
// (one coded picture each) and never decodes; decoding belongs to package demux.
//
// The pieces:
//
//   - Client pulls one H.264 (or H.265) stream over TCP, UDP or auto, hands AccessUnits in order to a
//     callback from one goroutine through a bounded queue that drops and counts, and keeps going when the
//     camera goes away: capped exponential backoff with jitter, a stall timeout, and a readable
//     ClientState (connecting, streaming, backoff, failed with a reason, counters). Credentials in the
//     URL are never logged or shown (RedactURL).
//   - TestCamera serves an AUSource over RTSP at real-time pace (or as fast as possible for tests).
//     AnnexBSource reads raw H.264 files and gives each picture its PTS from the picture order count;
//     NewDefaultSource serves the embedded clip.
//   - Restream republishes each camera's access units at rtsp://HOST:PORT/<camera> to many viewers,
//     one pull per camera.
package ingest
