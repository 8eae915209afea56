package zone

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var square = Polygon{{0.2, 0.2}, {0.6, 0.2}, {0.6, 0.6}, {0.2, 0.6}}

// validateCases are the table of Validate, reused as fuzz seeds.
var validateCases = []struct {
	name, json string
	want       error  // nil: valid
	msg        string // part of the message
}{
	{"square", `[[0.2,0.2],[0.6,0.2],[0.6,0.6],[0.2,0.6]]`, nil, ""},
	{"triangle cw", `[[0,0],[0,1],[1,1]]`, nil, ""},
	{"concave", `[[0,0],[1,0],[1,1],[0.5,0.3],[0,1]]`, nil, ""},
	{"whole picture", `[[0,0],[1,0],[1,1],[0,1]]`, nil, ""},
	{"two points", `[[0,0],[1,1]]`, ErrTooFewPoints, "2 points"},
	{"empty", `[]`, ErrTooFewPoints, "0 points"},
	{"outside x", `[[0,0],[1.2,0.5],[0,1]]`, ErrOutside, "point 1 (1.2, 0.5) outside [0,1]"},
	{"negative y", `[[0,0],[1,-0.1],[0,1]]`, ErrOutside, "point 1"},
	{"bowtie", `[[0,0],[1,1],[1,0],[0,1]]`, ErrSelfIntersecting, "self-intersecting at edge 2 (crosses edge 0)"},
	{"collinear", `[[0,0],[0.5,0.5],[1,1]]`, ErrZeroArea, "zero area"},
	{"same point", `[[0.3,0.3],[0.3,0.3],[0.3,0.3]]`, ErrZeroArea, "zero area"},
	{"sliver", `[[0,0],[1,0],[1,0.0000001]]`, ErrZeroArea, "zero area"},
	{"repeated vertex", `[[0,0],[1,0],[1,0],[0,1]]`, ErrSelfIntersecting, "points 1 and 2 are the same"},
	{"fold back", `[[0,0],[1,0],[0.5,0],[0,1]]`, ErrSelfIntersecting, "overlaps edge"},
	{"touching", `[[0,0],[1,0],[0.5,0.5],[1,1],[0,1],[0.5,0.5]]`, ErrSelfIntersecting, "self-intersecting"},
	{"not pairs", `[[0,0,1],[1,0],[0,1]]`, ErrInvalid, "point 0: want [x, y], got 3 numbers"},
	{"not json", `{"x":1}`, ErrInvalid, "want [[x, y], ...]"},
}

func TestValidate(t *testing.T) {
	for _, c := range validateCases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(c.json))
			if c.want == nil {
				require.NoError(t, err)
				require.Greater(t, p.Area(), 0.0)
				return
			}
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), c.msg)
			require.Nil(t, p)
		})
	}
}

func TestTooManyPoints(t *testing.T) {
	var p Polygon
	for i := 0; i < MaxPoints+1; i++ {
		a := 2 * math.Pi * float64(i) / float64(MaxPoints+1)
		p = append(p, Point{0.5 + 0.4*math.Cos(a), 0.5 + 0.4*math.Sin(a)})
	}
	require.ErrorIs(t, p.Validate(), ErrTooManyPoints)
	require.NoError(t, p[:MaxPoints].Validate())
}

func TestContainsAndArea(t *testing.T) {
	require.InDelta(t, 0.16, square.Area(), 1e-12)
	require.True(t, square.Contains(0.4, 0.4))
	require.False(t, square.Contains(0.1, 0.4))
	require.False(t, square.Contains(0.4, 0.7))
	concave := Polygon{{0, 0}, {1, 0}, {1, 1}, {0.5, 0.3}, {0, 1}}
	require.True(t, concave.Contains(0.5, 0.2))
	require.False(t, concave.Contains(0.5, 0.6), "the notch is outside")
	require.True(t, concave.Contains(0.1, 0.8))
}

func TestBoxOverlap(t *testing.T) {
	for _, c := range []struct {
		box  Box
		want float64
	}{
		{Box{0.3, 0.3, 0.5, 0.5}, 1},    // inside
		{Box{0.7, 0.7, 0.9, 0.9}, 0},    // outside
		{Box{0.5, 0.3, 0.7, 0.5}, 0.5},  // half across the right edge
		{Box{0.1, 0.1, 0.3, 0.3}, 0.25}, // a corner
		{Box{0, 0, 1, 1}, 0.16},         // the box holds the polygon
		{Box{0.4, 0.4, 0.4, 0.6}, 0},    // empty box
	} {
		require.InDelta(t, c.want, square.BoxOverlap(c.box), 1e-9, "%+v", c.box)
	}
	// Concave: the notch between (1,1), (0.5,0.3) and (0,1) is outside.
	concave := Polygon{{0, 0}, {1, 0}, {1, 1}, {0.5, 0.3}, {0, 1}}
	require.InDelta(t, concave.Area(), concave.BoxOverlap(Box{0, 0, 1, 1}), 1e-9)
	require.InDelta(t, 0, concave.BoxOverlap(Box{0.45, 0.8, 0.55, 0.9}), 1e-9)
}

func TestRaster(t *testing.T) {
	r := Raster([]Polygon{square}, 10, 10)
	n := 0
	for i, in := range r {
		c, row := i%10, i/10
		want := c >= 2 && c < 6 && row >= 2 && row < 6
		require.Equal(t, want, in, "cell %d,%d", c, row)
		if in {
			n++
		}
	}
	require.Equal(t, 16, n)
	require.Nil(t, Raster(nil, 10, 10))
	require.Nil(t, Raster([]Polygon{{{0, 0}, {0.01, 0}, {0, 0.01}}}, 4, 4), "no cell centre inside")
}

// FuzzParse checks that Parse never panics and that what it accepts is a valid polygon: vertices in
// the unit square, a positive area, its own vertices' centroid-free invariants (Validate agrees, box
// overlap within [0, 1] and equal to the area for the whole picture), and that errors wrap ErrInvalid.
func FuzzParse(f *testing.F) {
	for _, c := range validateCases {
		f.Add(c.json)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse([]byte(s))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted polygon fails Validate: %v", err)
		}
		if a := p.Area(); !(a >= minArea && a <= 1+1e-9) {
			t.Fatalf("area %g", a)
		}
		for _, q := range p {
			if q.X < 0 || q.X > 1 || q.Y < 0 || q.Y > 1 {
				t.Fatalf("vertex %v outside", q)
			}
		}
		if o := p.BoxOverlap(Box{0, 0, 1, 1}); math.Abs(o-p.Area()) > 1e-9 {
			t.Fatalf("overlap with the picture %g, area %g", o, p.Area())
		}
		if o := p.BoxOverlap(Box{0.25, 0.25, 0.75, 0.75}); o < 0 || o > 1 {
			t.Fatalf("overlap %g", o)
		}
		back, err := FromPairs(p.Pairs())
		if err != nil || len(back) != len(p) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
