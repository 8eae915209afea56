package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/pion/rtp"
)

// clipPackets packetises the embedded clip into marshalled RTP packets, as a camera would send them.
func clipPackets(b *testing.B) [][]byte {
	b.Helper()
	aus, err := ParseAnnexB(testcam.DefaultClip(), 0)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, au := range aus {
		pkts, err := enc.Encode(au.NALUs)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(au.PTS * 90000 / time.Second)
			raw, err := p.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, raw)
		}
	}
	return out
}

// BenchmarkRTPAssembly measures the client's packet path (unmarshal, depacketise, assemble with PTS,
// parameter sets and loss handling) against a baseline of unmarshal + gortsplib's depacketiser alone, in
// the same process, and reports the ratio of their throughputs (1.0 = no overhead).
func BenchmarkRTPAssembly(b *testing.B) {
	pkts := clipPackets(b)
	bytes := 0
	for _, p := range pkts {
		bytes += len(p)
	}
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}

	baseline := func() {
		dec, _ := forma.CreateDecoder()
		for _, raw := range pkts {
			var pkt rtp.Packet
			if err := pkt.Unmarshal(raw); err != nil {
				b.Fatal(err)
			}
			if _, err := dec.Decode(&pkt); err != nil && !errors.Is(err, rtph264.ErrMorePacketsNeeded) {
				b.Fatal(err)
			}
		}
	}
	ours := func() {
		asm, _ := newAssembler(forma, 0)
		n := 0
		for _, raw := range pkts {
			var pkt rtp.Packet
			if err := pkt.Unmarshal(raw); err != nil {
				b.Fatal(err)
			}
			_, ok, err := asm.push(&pkt)
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				n++
			}
		}
		if n != 150 {
			b.Fatalf("%d access units", n)
		}
	}
	// Alternate the two so that both see the same machine load; per-op times are totals over the run.
	var base, own time.Duration
	for b.Loop() {
		t0 := time.Now()
		baseline()
		t1 := time.Now()
		ours()
		base += t1.Sub(t0)
		own += time.Since(t1)
	}
	b.ReportMetric(float64(base)/float64(own), "ratio_vs_depacketiser")
	ownPerOp := float64(own) / float64(b.N)
	b.ReportMetric(150/(ownPerOp/1e9), "AU/s")
	b.ReportMetric(float64(bytes)/(ownPerOp/1e9)/1e6, "MB/s")
}
