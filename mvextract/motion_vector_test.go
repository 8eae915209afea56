package mvextract

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseCases are table cases for ParseMotionVectors; FuzzParseMotionVectors reuses them as seeds.
var parseCases = []struct {
	name string
	mvs  []MotionVector
}{
	{"empty", nil},
	{"h264 16x16 past", []MotionVector{{Source: -1, W: 16, H: 16, SrcX: 7, SrcY: 9, DstX: 8, DstY: 8, MotionX: -5, MotionY: 3, MotionScale: 4}}},
	{"h264 mixed", []MotionVector{
		{Source: -1, W: 8, H: 8, SrcX: 4, SrcY: 4, DstX: 4, DstY: 4, MotionScale: 4},
		{Source: 1, W: 8, H: 16, SrcX: -20, SrcY: 30, DstX: 12, DstY: 24, MotionX: -128, MotionY: 24, MotionScale: 4},
		{Source: -1, W: 16, H: 8, SrcX: 1288, SrcY: 716, DstX: 1272, DstY: 716, MotionX: 65, MotionY: 1, MotionScale: 4, Flags: 1 << 63},
	}},
	{"mpeg4 half-pel", []MotionVector{{Source: -1, W: 16, H: 16, SrcX: 25, SrcY: 7, DstX: 24, DstY: 8, MotionX: 3, MotionY: -3, MotionScale: 2}}},
	{"extremes", []MotionVector{{Source: -2147483648, W: 128, H: 1, SrcX: -32768, SrcY: 32767, DstX: -32768, DstY: 32767, MotionX: -2147483648, MotionY: 2147483647, MotionScale: 65535, Flags: ^uint64(0)}}},
}

func packAll(mvs []MotionVector) []byte {
	var b []byte
	for _, mv := range mvs {
		b = AppendMotionVector(b, mv)
	}
	return b
}

func TestParseMotionVectorsRoundTrip(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			side := packAll(tc.mvs)
			require.Len(t, side, len(tc.mvs)*MotionVectorSize)
			got, err := ParseMotionVectors(side, nil)
			require.NoError(t, err)
			if len(tc.mvs) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.mvs, got)
		})
	}
}

// TestParseMotionVectorsLayout checks the byte offsets against hand-written C struct bytes.
func TestParseMotionVectorsLayout(t *testing.T) {
	side := make([]byte, 40)
	copy(side[0:], []byte{0xff, 0xff, 0xff, 0xff})        // source -1
	side[4], side[5] = 8, 16                              // w, h
	copy(side[6:], []byte{0xfe, 0xff})                    // src_x -2
	copy(side[8:], []byte{0x10, 0x00})                    // src_y 16
	copy(side[10:], []byte{0x04, 0x00})                   // dst_x 4
	copy(side[12:], []byte{0x08, 0x00})                   // dst_y 8
	copy(side[14:], []byte{0xaa, 0xbb})                   // padding: ignored
	copy(side[16:], []byte{1, 0, 0, 0, 0, 0, 0, 0x80})    // flags
	copy(side[24:], []byte{0xe8, 0xff, 0xff, 0xff})       // motion_x -24
	copy(side[28:], []byte{0x20, 0x00, 0x00, 0x00})       // motion_y 32
	copy(side[32:], []byte{0x04, 0x00, 0xcc, 0xdd, 0xee}) // motion_scale 4, padding
	got, err := ParseMotionVectors(side, nil)
	require.NoError(t, err)
	require.Equal(t, []MotionVector{{Source: -1, W: 8, H: 16, SrcX: -2, SrcY: 16, DstX: 4, DstY: 8,
		Flags: 1<<63 | 1, MotionX: -24, MotionY: 32, MotionScale: 4}}, got)
}

func TestParseMotionVectorsErrors(t *testing.T) {
	good := MotionVector{Source: -1, W: 16, H: 16, MotionScale: 4}
	bad := func(f func(*MotionVector)) []byte {
		mv := good
		f(&mv)
		return packAll([]MotionVector{good, mv})
	}
	for _, tc := range []struct {
		name string
		side []byte
		want string
	}{
		{"short", make([]byte, 39), "39 bytes is not a multiple of 40"},
		{"long", make([]byte, 81), "81 bytes"},
		{"zero scale", bad(func(m *MotionVector) { m.MotionScale = 0 }), "vector 1 has motion_scale 0"},
		{"zero source", bad(func(m *MotionVector) { m.Source = 0 }), "source 0"},
		{"zero width", bad(func(m *MotionVector) { m.W = 0 }), "block size 0x16"},
		{"huge height", bad(func(m *MotionVector) { m.H = 200 }), "block size 16x200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMotionVectors(tc.side, nil)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrSideData))
			require.Contains(t, err.Error(), tc.want)
			require.LessOrEqual(t, len(got), 1)
		})
	}
}

func TestParseMotionVectorsReusesDst(t *testing.T) {
	side := packAll(parseCases[2].mvs)
	dst := make([]MotionVector, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		dst, err = ParseMotionVectors(side, dst)
		if err != nil || len(dst) != 3 {
			t.Fatal(err, len(dst))
		}
	})
	require.Zero(t, allocs)
}

func FuzzParseMotionVectors(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(packAll(tc.mvs))
	}
	f.Add(make([]byte, 41))
	f.Fuzz(func(t *testing.T, side []byte) {
		got, err := ParseMotionVectors(side, nil)
		if err != nil {
			if !errors.Is(err, ErrSideData) {
				t.Fatalf("error %v does not wrap ErrSideData", err)
			}
			return
		}
		if len(got) != len(side)/MotionVectorSize {
			t.Fatalf("%d vectors from %d bytes", len(got), len(side))
		}
		// Re-encoding gives the input back, padding bytes aside.
		again := packAll(got)
		for i := 0; i < len(side); i += MotionVectorSize {
			for _, r := range [][2]int{{0, 14}, {16, 34}} {
				if !bytes.Equal(side[i+r[0]:i+r[1]], again[i+r[0]:i+r[1]]) {
					t.Fatalf("vector %d bytes %v differ after round trip", i/MotionVectorSize, r)
				}
			}
		}
		// The field and prediction accept whatever the parser accepts.
		var fld Field
		if err := fld.Reset(64, 48, GridCell); err != nil {
			t.Fatal(err)
		}
		if err := fld.Fill(got, true); err != nil {
			t.Fatal(err)
		}
		ref := make([]byte, 64*48)
		pred := make([]byte, 64*48)
		if err := Predict(pred, ref, 64, &fld); err != nil {
			t.Fatal(err)
		}
		p := Predictor{Interpolation: H264}
		if err := p.Predict(pred, ref, 64, &fld); err != nil {
			t.Fatal(err)
		}
	})
}
