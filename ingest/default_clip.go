package ingest

import (
	_ "embed" // the default test camera clip
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
//	  -x264-params keyint=30:min-keyint=30:scenecut=0 -crf 26 -f h264 ingest/clip/testcam.264
//
//go:embed clip/testcam.264
var defaultClip []byte

// DefaultClip returns the built-in test clip as a raw H.264 Annex-B stream. The slice must not be modified.
func DefaultClip() []byte { return defaultClip }

// NewDefaultSource returns an AUSource over the built-in clip, optionally looped.
func NewDefaultSource(loop bool) (*AnnexBSource, error) {
	return NewAnnexBSource(defaultClip, AnnexBOptions{Loop: loop})
}
