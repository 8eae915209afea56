package source

import (
	"os"
	"testing"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
)

// BenchmarkKeyframeCheck compares the slow-change check's decode of one IDR on a fresh decoder
// (what checkKeyframe does) with a decoder kept open.
func BenchmarkKeyframeCheck(b *testing.B) {
	data, err := os.ReadFile(sceneClip)
	if err != nil {
		b.Fatal(err)
	}
	aus, err := ingest.ParseAnnexB(data, 15)
	if err != nil {
		b.Fatal(err)
	}
	idr := aus[0]
	cfg := demux.DecoderConfig{Pixels: true, Threads: 1, HWAccel: demux.HWNone}
	nop := func(*media.Frame) error { return nil }
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
