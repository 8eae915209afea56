package testcam

import (
	_ "embed" // the built-in clips
)

// defaultClip is the built-in test camera's stream: 640x360, 15 fps, 10 s (150 pictures), H.264 Main
// with B-frames and an IDR every 2 s, a static texture with two moving objects. It was made with:
//
//	ffmpeg -f lavfi -i "color=c=gray:s=640x360:r=15:d=10" -f lavfi -i "testsrc2=s=96x96:r=15:d=10" \
//	  -f lavfi -i "color=c=orange:s=64x40:r=15:d=10" -filter_complex \
//	  "[0]geq=lum='128+50*sin(X/9)*cos(Y/7)+40*sin((X+2*Y)/23)':cb='128+20*sin(Y/31)':cr='128+20*cos(X/29)'[bg];\
//	   [bg][1]overlay=x='40+t*50':y='60+40*sin(t*1.3)':eval=frame[a];\
//	   [a][2]overlay=x='560-t*45':y='250-t*8':eval=frame,format=yuv420p" \
//	  -c:v libx264 -profile:v main -preset medium -g 30 -bf 2 \
//	  -x264-params keyint=30:min-keyint=30:scenecut=0 -crf 26 -f h264 internal/testcam/clip/testcam.264
//
//go:embed clip/testcam.264
var defaultClip []byte

// DefaultClip returns the built-in test clip as a raw H.264 Annex-B stream (its SPS carries the frame
// rate): read it with ingest.NewAnnexBSource. The slice must not be modified.
func DefaultClip() []byte { return defaultClip }

// sceneClip is the scripted camera scene that `mvwatch serve` plays by default and its end-to-end test
// uses: 448x256, 15 fps, 192 pictures (12.8 s), H.264 without B-frames, IDR every 2 s. A fixed view of a
// held-out photographic background with sensor noise and a swaying patch where an object crosses left to
// right, then the camera pans, with idle stretches between (clip/scene.json has the segments). It is
// rendered by `python -m training.fixtures scene-clip --out internal/testcam/clip/scene.264`.
//
//go:embed clip/scene.264
var sceneClip []byte

// SceneFrameRate is the scripted scene's frame rate, which its SPS does not carry: pass it to
// ingest.NewAnnexBSource as AnnexBOptions.FrameRate.
const SceneFrameRate = 15

// SceneClip returns the scripted scene as a raw H.264 Annex-B stream. The slice must not be modified.
func SceneClip() []byte { return sceneClip }
