package source

import (
	"os"
	"os/exec"
	"testing"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
)

// BenchmarkKeyframeCheck compares the slow-change check's decode of one IDR on a fresh decoder
// (what checkKeyframe does) with a decoder kept open and with the deblocking filter skipped, on the
// scripted scene's 448x256 IDR and on a noisy 720p camera's (`mvwatch bench serve`'s scene).
func BenchmarkKeyframeCheck(b *testing.B) {
	data, err := os.ReadFile(sceneClip)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scene448", func(b *testing.B) { benchKeyframeCheck(b, data) })
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i",
		"testsrc2=size=1280x720:rate=15,noise=alls=4:allf=t", "-frames:v", "1", "-c:v", "libx264",
		"-preset", "veryfast", "-f", "h264", "-").Output()
	if err != nil {
		b.Skip("ffmpeg:", err)
	}
	b.Run("noisy720", func(b *testing.B) { benchKeyframeCheck(b, out) })
}

func benchKeyframeCheck(b *testing.B, data []byte) {
	aus, err := ingest.ParseAnnexB(data, 15)
	if err != nil {
		b.Fatal(err)
	}
	idr := aus[0]
	cfg := demux.DecoderConfig{Pixels: true, Threads: 1, HWAccel: demux.HWNone}
	nop := func(*media.Frame) error { return nil }
	b.Run("fresh-noloopfilter", func(b *testing.B) {
		c := cfg
		c.SkipLoopFilter = true
		for b.Loop() {
			d, err := demux.NewDecoder(media.CodecH264, c)
			if err != nil {
				b.Fatal(err)
			}
			_ = d.Decode(idr, nop)
			_ = d.Flush(nop)
			d.Close()
		}
	})
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			d, err := demux.NewDecoder(media.CodecH264, cfg)
			if err != nil {
				b.Fatal(err)
			}
			_ = d.Decode(idr, nop)
			_ = d.Flush(nop)
			d.Close()
		}
	})
	b.Run("reused", func(b *testing.B) {
		d, err := demux.NewDecoder(media.CodecH264, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for b.Loop() {
			_ = d.Decode(idr, nop)
			_ = d.Flush(nop)
		}
	})
}
