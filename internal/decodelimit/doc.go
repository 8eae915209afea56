// Package decodelimit bounds what one camera may make the decoder allocate and do. Limits are
// checked from each sequence parameter set (SPS) before the decoder sees it, from the SDP's
// sprop-parameter-sets as well as in-band, and again whenever the SPS changes:
//
//   - coded width and height (macroblocks or luma samples, before cropping: what the decoder
//     allocates), and pixels per picture;
//   - reference frames: H.264 max_num_ref_frames, H.265 sps_max_dec_pic_buffering_minus1+1;
//   - bytes: per access unit, and buffered between network and decoder per camera (enforced by
//     ingest with these values);
//   - decode rate: a camera whose pictures arrive faster than its declared frame rate times a
//     margin (or MaxFPS) is throttled (Throttle), when a margin is set.
//
// What one camera can cost is then bounded by the limits: its decoder holds at most about
// (MaxRefFrames + 3) pictures of MaxPixels (1.5 bytes a pixel at 8-bit 4:2:0, twice that at most for
// other formats), about 250 MB at the defaults for a camera at the very limit, 4K with 16 references
// (a 1080p camera with 4 references needs about 22 MB); MaxQueueBytes plus MaxAccessUnitBytes wait
// before the decoder; and one core at most, less when throttled.
//
// A camera over a limit fails with a *Violation naming the value, the limit and its config field,
// and is counted by reason in mvwatch_decode_limit_failures_total. The SPS fields are read by a
// small parser of this package that stops at the last field it needs (so features it does not know
// later in the SPS cannot hide the size); the frame rate comes from mediacommon's full SPS parser,
// the one internal/pregate uses, when that parses.
package decodelimit
