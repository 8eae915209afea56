// Package mvextract turns decoded frames into compressed-domain features in plain Go: it parses FFmpeg's
// motion-vector side data, builds dense motion fields, computes residual frames by motion compensation,
// and assembles fixed-size clips for the model. It allocates nothing per frame in the steady state.
//
// # Per frame
//
// ParseMotionVectors decodes AV_FRAME_DATA_MOTION_VECTORS side data into MotionVector values (FFmpeg's
// AVMotionVector). A Field paints them onto a grid of 4x4-pixel cells (Macroblocks gives the 16x16
// view): per cell the displacement (DX, DY) in pixels toward the past reference, src = dst + (DX, DY),
// and a Mask that is 0 where no vector covers the cell (intra blocks, I-frames); optionally the same for
// the future reference (B-frames).
//
// An Extractor runs this per frame and also predicts the luma plane from a reference frame with the
// field's past vectors (the last I- or P-frame before it in output order by default, or the previous
// frame; Predictor: bilinear, or H.264's exact 6-tap interpolation), and returns the residual = frame -
// prediction as int16, with Reconstruct as the exact inverse. FFmpeg exports each vector's direction
// but not its reference index, so with several reference frames or B-pyramids the residual approximates
// the decoder's; for one-reference P-frames with H264 interpolation it is the decoder's own prediction
// error.
//
// # Clips: the model input (also what `mvwatch features` writes)
//
// A Clipper turns the per-frame features into clips of float32 in [C][T][H][W] order (W fastest); the
// features command stacks them as [N, C, T, H, W]. T is ClipConfig.Length (8 by default), H x W the
// model input size (64x64 by default), clip n starts at frame n*Stride and takes every Step-th frame.
// Each frame is area-averaged from its own resolution down to H x W. Channels:
//
//	0 dx:       mean DX over the area, in model-input pixels (DX * W / frame width) / MVNorm (0.5)
//	1 dy:       mean DY, likewise (DY * H / frame height) / MVNorm
//	2 residual: mean luma residual / ResidualNorm (128), about [-1, 1]
//	3 |residual| (only with AbsResidual): mean absolute luma residual / ResidualNorm, in [0, 2]
//	then, with Chroma, cb_residual and cr_residual: mean Cb and Cr residuals / ResidualNorm
//
// ClipConfig.ChannelNames lists them in order (the features command writes that list to its .json).
// Cells without a past vector count as zero motion. The first frame of a stream (no reference) has a
// zero residual; an I-frame's residual is against the previous frame with zero motion. With
// Accumulate, channels 0-2 hold CoViAR-style values traced back to the last I-frame (zero at I-frames).
// Sign convention: content moving right by 2 pixels per frame gives DX = -2 (it came from the left).
package mvextract
