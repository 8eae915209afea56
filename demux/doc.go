// Package demux owns every FFmpeg (go-astiav, cgo) object in mvwatch: format contexts for files and
// URLs, decoders with motion-vector export, hardware device contexts, packets and frames. It hands
// decoded pictures on as media.Frame, a view in plain Go memory, so nothing downstream touches cgo.
package demux
