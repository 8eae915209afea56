// Package media holds the value types that the stages of mvwatch hand each other: the codec of a
// stream, an access unit (one coded picture, as ingest delivers it) and a frame (one decoded picture,
// as demux delivers it). It is a leaf: it imports the standard library only, so a package that needs
// these types (mvextract, for one) links neither FFmpeg nor an RTSP stack.
package media
