package pregate

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseCase is one real stream made with the ffmpeg CLI at a known constant QP.
type parseCase struct {
	name  string
	codec Codec
	graph string
	args  []string
	// qp maps each picture type to the slice QP the encoder must have used.
	qp map[PictureType]int
	// slices is the number of slices per picture.
	slices int
}

const parseGraph = "testsrc2=s=176x144:r=15:d=2"

func flatQP(qp int) map[PictureType]int {
	return map[PictureType]int{PictureI: qp, PictureP: qp, PictureB: qp}
}

var parseCases = []parseCase{
	{name: "h264 baseline cavlc qp30", codec: CodecH264, graph: parseGraph, slices: 1, qp: flatQP(30),
		args: []string{"-c:v", "libx264", "-profile:v", "baseline", "-qp", "30", "-g", "10",
			"-x264-params", "ipratio=1:pbratio=1"}},
	{name: "h264 high cabac b-pyramid qp23", codec: CodecH264, graph: parseGraph, slices: 1, qp: flatQP(23),
		args: []string{"-c:v", "libx264", "-qp", "23", "-bf", "3", "-g", "12",
			"-x264-params", "ipratio=1:pbratio=1:b-pyramid=normal:ref=4"}},
	// x264's default ratios in constant-QP mode: I = qp - 3, B = qp + 2 (round of
	// qp -/+ 6*log2(1.4 / 1.3)); pic_init_qp is the P QP, so I and B slices carry a slice_qp_delta.
	{name: "h264 default ratios qp28", codec: CodecH264, graph: parseGraph, slices: 1,
		qp:   map[PictureType]int{PictureI: 25, PictureP: 28, PictureB: 30},
		args: []string{"-c:v", "libx264", "-qp", "28", "-bf", "2", "-g", "15", "-x264-params", "b-pyramid=none"}},
	{name: "h264 four slices weighted qp35", codec: CodecH264, graph: parseGraph, slices: 4, qp: flatQP(35),
		args: []string{"-c:v", "libx264", "-qp", "35", "-bf", "2", "-g", "8",
			"-x264-params", "ipratio=1:pbratio=1:slices=4:weightp=2:weightb=1"}},
	{name: "h264 interlaced mbaff qp26", codec: CodecH264, graph: parseGraph, slices: 1, qp: flatQP(26),
		args: []string{"-c:v", "libx264", "-qp", "26", "-bf", "1", "-g", "10",
			"-x264-params", "ipratio=1:pbratio=1:interlaced=1"}},
	{name: "h264 lossless qp0", codec: CodecH264, graph: parseGraph, slices: 1, qp: flatQP(0),
		args: []string{"-c:v", "libx264", "-qp", "0", "-g", "10"}},
	{name: "h265 qp30 b-frames", codec: CodecH265, graph: parseGraph, slices: 1, qp: flatQP(30),
		args: []string{"-c:v", "libx265", "-x265-params",
			"log-level=error:qp=30:ipratio=1:pbratio=1:bframes=3:keyint=12"}},
	{name: "h265 qp22 closed gop slices weighted", codec: CodecH265, graph: parseGraph, slices: 3, qp: flatQP(22),
		args: []string{"-c:v", "libx265", "-x265-params",
			"log-level=error:qp=22:ipratio=1:pbratio=1:bframes=2:keyint=9:open-gop=0:slices=3:weightp=1:weightb=1:ref=3"}},
	{name: "h265 qp40 p-only 444", codec: CodecH265, graph: parseGraph + ",format=yuv444p", slices: 1, qp: flatQP(40),
		args: []string{"-c:v", "libx265", "-x265-params",
			"log-level=error:qp=40:ipratio=1:pbratio=1:bframes=0:keyint=10:sao=0"}},
}

func newParser(codec Codec) func([][]byte) (Picture, error) {
	if codec == CodecH264 {
		return NewH264Parser().AccessUnit
	}
	return NewH265Parser().AccessUnit
}

func TestParseRealStreams(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			path := encode(t, tc.codec, tc.graph, tc.args...)
			aus := readAccessUnits(t, tc.codec, path)
			frames := probeFrames(t, path)
			require.Len(t, aus, len(frames), "access units vs ffprobe frames")
			parse := newParser(tc.codec)
			seen := map[PictureType]int{}
			for i, au := range aus {
				pic, err := parse(au)
				require.NoError(t, err, "access unit %d", i)
				require.Equal(t, frames[i].typ, pic.Type.String(), "picture type of access unit %d", i)
				require.Equal(t, frames[i].key, pic.IDR, "IDR flag of access unit %d", i)
				require.Equal(t, tc.qp[pic.Type], pic.MinQP, "min slice QP of access unit %d (%s)", i, pic)
				require.Equal(t, tc.qp[pic.Type], pic.MaxQP, "max slice QP of access unit %d (%s)", i, pic)
				require.Equal(t, tc.slices, pic.Slices, "slices of access unit %d", i)
				require.Positive(t, pic.Bytes)
				seen[pic.Type]++
			}
			require.Positive(t, seen[PictureI], "stream has I pictures")
			require.Positive(t, seen[PictureP], "stream has P pictures")
		})
	}
}

func TestParseErrors(t *testing.T) {
	path := encode(t, CodecH264, parseGraph, "-c:v", "libx264", "-qp", "30", "-g", "10")
	aus := readAccessUnits(t, CodecH264, path)
	require.Greater(t, len(aus), 2)

	t.Run("slice before parameter sets", func(t *testing.T) {
		_, err := NewH264Parser().AccessUnit(aus[1])
		require.ErrorIs(t, err, ErrMissingParameterSet)
	})
	t.Run("no slice", func(t *testing.T) {
		_, err := NewH264Parser().AccessUnit([][]byte{{0x09, 0xf0}})
		require.ErrorIs(t, err, ErrNoSlice)
	})
	t.Run("truncated slice", func(t *testing.T) {
		p := NewH264Parser()
		_, err := p.AccessUnit(aus[0])
		require.NoError(t, err)
		var slice []byte
		for _, n := range aus[1] {
			if n[0]&0x1f == 1 {
				slice = n
			}
		}
		require.NotNil(t, slice)
		_, err = p.AccessUnit([][]byte{slice[:2]})
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("data partitioning", func(t *testing.T) {
		_, err := NewH264Parser().AccessUnit([][]byte{{0x02, 0x80}})
		require.ErrorIs(t, err, ErrUnsupported)
	})
	t.Run("corrupt pps", func(t *testing.T) {
		var pps H264PPS
		require.ErrorIs(t, pps.Unmarshal([]byte{0x68}), ErrCorrupt)
		require.ErrorIs(t, pps.Unmarshal([]byte{0x68, 0x00, 0x00}), ErrCorrupt)
		var pps5 H265PPS
		require.ErrorIs(t, pps5.Unmarshal([]byte{0x44, 0x01, 0x00, 0x00}), ErrCorrupt)
	})
	t.Run("every error wraps a sentinel", func(t *testing.T) {
		// Flip bits in every header byte of every slice: the parser returns a picture or one of
		// the sentinel errors, never another error and never a panic.
		for i, au := range aus[:4] {
			for j := range au {
				for b := 0; b < min(len(au[j]), 12)*8; b++ {
					mut := cloneAU(au)
					mut[j][b/8] ^= 1 << (7 - b%8)
					_, err := NewH264Parser().AccessUnit(append(cloneAU(aus[0]), mut...))
					if err != nil && !isSentinel(err) {
						t.Fatalf("access unit %d nalu %d bit %d: %v", i, j, b, err)
					}
				}
			}
		}
	})
}

func cloneAU(au [][]byte) [][]byte {
	out := make([][]byte, len(au))
	for i, n := range au {
		out[i] = append([]byte(nil), n...)
	}
	return out
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrCorrupt, ErrUnsupported, ErrMissingParameterSet, ErrNoSlice} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func ExampleH264Parser_AccessUnit() {
	p := NewH264Parser()
	// An access unit of a stream made with `ffmpeg -f lavfi -i color=s=16x16 -c:v libx264 -qp 30`
	// would be parsed like this; the AUD-only unit here carries no slice.
	_, err := p.AccessUnit([][]byte{{0x09, 0xf0}})
	fmt.Println(err)
	// Output: pregate: access unit without a coded slice
}
