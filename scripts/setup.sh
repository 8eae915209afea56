#!/usr/bin/env bash
# setup.sh installs what mvwatch needs to build and test on Debian 12, and nothing that is already there.
# It is idempotent: on a machine where everything is present it only checks and returns in about a second.
#
#   - FFmpeg 5.1 development libraries, the ffmpeg CLI (fixtures, benchmark baseline) and ffmpeg-doc
#     (FFmpeg's extract_mvs.c example, an independent route in tests), through apt;
#   - mosquitto, the MQTT broker of the integration test of internal/mqtt, through apt;
#   - chromium, the real browser of the dashboard's browser tests (web/), through apt;
#   - the ONNX Runtime 1.30 CPU shared library, taken from the npm package onnxruntime-node
#     (the only registry here that ships the C library), into third_party/onnxruntime/ (gitignored);
#   - the Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
ORT_DIR=third_party/onnxruntime
ORT_LIB="$ORT_DIR/libonnxruntime.so.1"

need_apt=()
for pc in libavcodec libavformat libavutil libswscale libavfilter libavdevice libswresample; do
  pkg-config --exists "$pc" 2>/dev/null || { need_apt+=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavfilter-dev libavdevice-dev libswresample-dev pkg-config); break; }
done
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
[ -f /usr/share/doc/ffmpeg/examples/extract_mvs.c ] || need_apt+=(ffmpeg-doc)
command -v gcc >/dev/null || need_apt+=(gcc)
[ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto) # a real MQTT broker for internal/mqtt's integration test
command -v chromium >/dev/null || need_apt+=(chromium) # the real browser of web/'s browser tests (chromedp)
command -v npm >/dev/null || [ -f "$ORT_LIB" ] || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing with apt: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if [ ! -f "$ORT_LIB" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION (npm package onnxruntime-node)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mkdir -p "$ORT_DIR"
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB.tmp"
  mv "$ORT_LIB.tmp" "$ORT_LIB"
fi

go mod download
