// Package pregate is the bitstream-level pre-decode gate (issue 18): it reads, per access unit,
// the signals that need no decoding (slice type, IDR, slice QP, coded size) and decides whether
// a camera's decoder has to run at all, keeping the current GOP so that a wake-up loses no frame.
//
// # Pieces
//
//   - H264Parser and H265Parser keep a stream's parameter sets (SPS via mediacommon; PPS and
//     slice headers up to slice_qp_delta parsed here, because mediacommon has no H.264 PPS and
//     stops its H.265 PPS before init_qp_minus26) and turn an access unit's NAL units into a
//     Picture. Every read is bounds-checked; every error wraps ErrCorrupt, ErrUnsupported,
//     ErrMissingParameterSet or ErrNoSlice.
//   - Gate compares a picture's complexity (bits x quantiser step 2^((QP-4)/6) per 16x16 block,
//     averaged over the last few pictures of the same type) with a per-camera, per-type floor.
//     It starts awake, learns the floor during a warm-up (median and median absolute deviation),
//     then learns only from quiet pictures, never from motion; wake and sleep thresholds differ
//     (hysteresis) and it stays awake for a hold after the last motion picture. I pictures are
//     neutral by default.
//   - GOPBuffer keeps the access units since the last IDR (or, NewGOPWindow, whole GOPs over a window:
//     the event clips' pre-roll buffer in internal/clip), bounded in bytes, and counts
//     overflows and the units they drop.
//   - Camera combines the three for one camera: Push returns what to decode now; State is a
//     snapshot (asleep/awake, wake-ups, units and bytes buffered, decoded/skipped, fallbacks by
//     reason); Metrics exports the same as mvwatch_pregate_* series from an injected registerer.
//
// # How the camera worker uses it (ingest -> pregate -> demux)
//
// The worker creates one Camera per camera (NewCamera with the camera's codec and the shared
// Metrics) and, for every access unit ingest hands over, in its own goroutine:
//
//	if au.Discontinuity {
//		pg.Discontinuity() // new RTSP session: drop the old GOP, keep the floors
//	}
//	res := pg.Push(au.NALUs, au.PTS)
//	for _, u := range res.Decode {
//		decoder.Send(u.NALUs, u.PTS) // demux: the buffered GOP first on a wake-up, then live
//	}
//
// While the camera sleeps nothing reaches the decoder; the units wait in the GOP buffer. On a
// wake-up, Decode holds the buffered units the decoder has not seen (from the last IDR, or from
// where the decoder stopped within the current GOP) followed by the current unit, so the decoder
// always sees a continuous stream from an IDR and the MV/residual pipeline sees every frame of
// the event from the last keyframe on; the worker decodes them faster than real time and
// carries on. The worker's own frame timing must therefore follow PTS, not arrival time.
//
// When the bitstream cannot be trusted, the camera falls back to plain decoding (every unit
// decoded) and counts the reason: a corrupt slice header, unsupported syntax, a missing
// parameter set after the first IDR, a GOP larger than the buffer, or no IDR within
// MaxIDRInterval. A cleanly parsed IDR hands control back to the gate.
//
// A slow change no single packet shows (light, tamper, defocus), or an object too small for the
// frame-level signals, is caught by the worker (internal/source's PreGate): while asleep it decodes
// each GOP's IDR on a second, keyframe-only decoder, so the main decoder's replay stays continuous,
// compares it with the previous keyframe and reports the outcome with KeyframeChecked before it
// pushes that IDR; a change wakes the camera and that Push hands out the GOP before the IDR as well.
// A content change (some blocks) keeps the learned floors and holds the camera awake as a motion
// picture would; a light change (the mean luma) forgets them, so they are learned again. The
// checks of many cameras share a few open decoders (internal/source's KeyframeDecoders).
// Result.Resumed tells the worker that the decode follows released units, so the frames' reader
// starts its motion fields again and counts the frames slept through from the PTS step, so that its
// clips stay on the grid of a camera decoded in full (pipeline's processor, mvextract's
// Clipper.Skip): the model then sees the same clips with the pre-gate as without it. Left: when the decoded-domain gate has seen a static
// scene for long while the pre-gate stays awake (the scene changed for good), calling ResetGate
// so the floors are learned again; event clips' pre-roll from the buffer.
//
// # Limits (measured, see measure_test.go)
//
// Frame-level signals see an object only when it changes the coded size or QP by more than the
// rate control's own swings: on a noisy night scene under CBR the swings (about 0.8 in log2
// complexity) hide a lit object that adds about 0.25, so that scene stays asleep; the decoded
// keyframe check is the safety net there.
package pregate
