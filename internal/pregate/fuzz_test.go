package pregate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// seedStreams returns the committed seed streams (testdata/make-seeds.sh) of a codec.
func seedStreams(f *testing.F, ext string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*"+ext))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed streams *%s: %v", ext, err)
	}
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// seedNALUs returns every NAL unit of the seed streams for which keep is true.
func seedNALUs(f *testing.F, ext string, keep func([]byte) bool) [][]byte {
	f.Helper()
	var out [][]byte
	for _, s := range seedStreams(f, ext) {
		var nalus h264.AnnexB
		if err := nalus.Unmarshal(s); err != nil {
			f.Fatal(err)
		}
		for _, n := range nalus {
			if len(n) > 0 && keep(n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// fuzzStream feeds an Annex-B stream, one NAL unit per access unit, to a parser and a camera;
// both must return a sentinel error or a picture, never panic.
func fuzzStream(t *testing.T, codec Codec, data []byte) {
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(data); err != nil {
		return
	}
	parse := newParser(codec)
	c, err := NewCamera("fuzz", Config{Codec: codec, MaxBufferBytes: 1 << 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nalus {
		if _, err := parse([][]byte{n}); err != nil && !isSentinel(err) {
			t.Fatalf("NAL unit %d: error wraps no sentinel: %v", i, err)
		}
		r := c.Push([][]byte{n}, time.Duration(i)*time.Millisecond)
		if r.Err != nil && !isSentinel(r.Err) {
			t.Fatalf("camera NAL unit %d: %v", i, r.Err)
		}
	}
}

func FuzzH264Stream(f *testing.F) {
	for _, s := range seedStreams(f, ".264") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzStream(t, CodecH264, data) })
}

func FuzzH265Stream(f *testing.F) {
	for _, s := range seedStreams(f, ".265") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzStream(t, CodecH265, data) })
}

func FuzzH264PPS(f *testing.F) {
	for _, n := range seedNALUs(f, ".264", func(n []byte) bool { return n[0]&0x1f == 8 }) {
		f.Add(n)
	}
	f.Add([]byte{0x68})
	f.Add([]byte{0x68, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p H264PPS
		if err := p.Unmarshal(data); err != nil && !isSentinel(err) {
			t.Fatal(err)
		}
	})
}

func FuzzH265PPS(f *testing.F) {
	for _, n := range seedNALUs(f, ".265", func(n []byte) bool { return (n[0]>>1)&0x3f == 34 }) {
		f.Add(n)
	}
	f.Add([]byte{0x44, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p H265PPS
		if err := p.Unmarshal(data); err != nil && !isSentinel(err) {
			t.Fatal(err)
		}
	})
}

// FuzzH264SliceHeader mutates slice NAL units against the parameter sets of their seed stream.
func FuzzH264SliceHeader(f *testing.F) {
	params := seedNALUs(f, ".264", func(n []byte) bool { t := n[0] & 0x1f; return t == 7 || t == 8 })
	for _, n := range seedNALUs(f, ".264", func(n []byte) bool { t := n[0] & 0x1f; return t == 1 || t == 5 }) {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewH264Parser()
		for _, n := range params {
			_, _ = p.AccessUnit([][]byte{n})
		}
		if _, err := p.SliceHeader(data); err != nil && !isSentinel(err) {
			t.Fatal(err)
		}
	})
}

// FuzzH265SliceHeader mutates slice segment NAL units against the seed parameter sets.
func FuzzH265SliceHeader(f *testing.F) {
	params := seedNALUs(f, ".265", func(n []byte) bool { t := (n[0] >> 1) & 0x3f; return t >= 32 && t <= 34 })
	for _, n := range seedNALUs(f, ".265", func(n []byte) bool { return (n[0]>>1)&0x3f < 32 }) {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewH265Parser()
		for _, n := range params {
			_, _ = p.AccessUnit([][]byte{n})
		}
		if len(data) < 2 {
			return
		}
		if _, err := p.SliceHeader(data); err != nil && !isSentinel(err) {
			t.Fatal(err)
		}
	})
}
