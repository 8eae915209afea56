// Package ingest brings coded video into mvwatch: RTSP client sessions with reconnect and backoff,
// the built-in test camera (an RTSP server), and the restream server. It deals in access units
// (one coded picture each) and never decodes; decoding belongs to package demux.
package ingest
