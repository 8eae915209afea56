// Package clip keeps each event's coded video (issue 16, part 3). Every camera has a Recorder: a
// bounded buffer of its access units (pregate.GOPBuffer in window mode, whole GOPs back to the
// keyframe before the pre-roll and the time inference takes to open an event) and the recordings of
// its open events. When the eventizer opens an event, its recording starts at the keyframe at or
// before the event's start minus the pre-roll; it grows with every access unit until the event
// closes and the post-roll has passed, bounded in duration and bytes. The finished recording goes
// through a bounded queue (drop and count) to the Service's one writer goroutine, which remuxes it to
// MP4 without re-encoding (demux.WriteMP4: the only cgo, in demux) into the Store: a folder of
// <event id>.mp4 files written atomically (temporary file, fsync, rename), with retention by age and
// total size like the event store's; a burst of events deletes the oldest clips first, so the stored
// clips never exceed their bound (the one being written waits beside them as a temporary file).
//
// Each clip carries its time base in its tags: "comment" is the wall-clock time of its first
// picture (RFC 3339, nanoseconds), "title" the event id, so a clip's time 0 maps to the event's
// timeline.
package clip
