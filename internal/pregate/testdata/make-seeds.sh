#!/bin/sh
# Regenerates the fuzz seed streams: tiny versions of the parse table cases (parse_test.go).
set -eu
cd "$(dirname "$0")"
src="testsrc2=s=64x48:r=15:d=0.4"
enc() { out=$1; shift; ffmpeg -v error -y -f lavfi -i "$src" "$@" "$out"; }
enc h264-baseline.264 -c:v libx264 -profile:v baseline -qp 30 -g 4 -x264-params ipratio=1:pbratio=1 -f h264
enc h264-high-bpyramid.264 -c:v libx264 -qp 23 -bf 3 -g 6 -x264-params b-pyramid=normal:ref=4 -f h264
enc h264-slices-weighted.264 -c:v libx264 -qp 35 -bf 2 -g 4 -x264-params slices=2:weightp=2:weightb=1 -f h264
enc h264-interlaced.264 -c:v libx264 -qp 26 -bf 1 -g 4 -x264-params interlaced=1 -f h264
enc h265-bframes.265 -c:v libx265 -x265-params log-level=error:qp=30:bframes=3:keyint=6 -f hevc
enc h265-slices-weighted.265 -c:v libx265 -x265-params log-level=error:qp=22:bframes=2:keyint=4:open-gop=0:slices=2:weightp=1:weightb=1 -f hevc
