package zone

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Validation errors. Every error Validate or Parse returns wraps ErrInvalid and one of the more precise
// sentinels below, and says which point or edge is at fault.
var (
	// ErrInvalid is wrapped by every validation error.
	ErrInvalid = errors.New("invalid polygon")
	// ErrTooFewPoints: a polygon needs at least MinPoints vertices.
	ErrTooFewPoints = errors.New("fewer than 3 points")
	// ErrOutside: a vertex lies outside [0, 1] x [0, 1] (or is NaN or infinite).
	ErrOutside = errors.New("outside [0,1]")
	// ErrSelfIntersecting: two edges that are not neighbours cross or touch, or neighbours overlap.
	ErrSelfIntersecting = errors.New("self-intersecting")
	// ErrZeroArea: the polygon encloses no area (all points on a line, or repeated).
	ErrZeroArea = errors.New("zero area")
	// ErrTooManyPoints: more than MaxPoints vertices.
	ErrTooManyPoints = errors.New("too many points")
)

// MinPoints is the fewest vertices a polygon may have; MaxPoints the most.
const (
	MinPoints = 3
	MaxPoints = 64
)

// minArea is the smallest area (of the unit square) a valid polygon encloses: a millionth, about one
// pixel of a 1280x720 picture. Smaller polygons are degenerate.
const minArea = 1e-6

// Point is a position in normalised picture coordinates.
type Point struct{ X, Y float64 }

// Polygon is a simple polygon: its vertices in order (either orientation), the last joined to the
// first. Edge i runs from vertex i to vertex i+1 (the last edge back to vertex 0).
type Polygon []Point

// Box is an axis-aligned rectangle [X0, X1) x [Y0, Y1) in normalised coordinates. In JSON it is
// {"x0": ..., "y0": ..., "x1": ..., "y1": ...}.
type Box struct {
	X0 float64 `json:"x0"`
	Y0 float64 `json:"y0"`
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
}

// Area returns the box's area, 0 for an empty box.
func (b Box) Area() float64 { return max(b.X1-b.X0, 0) * max(b.Y1-b.Y0, 0) }

// Pairs returns the polygon as [[x, y], ...], the form of the config file and the API.
func (p Polygon) Pairs() [][]float64 {
	out := make([][]float64, len(p))
	for i, q := range p {
		out[i] = []float64{q.X, q.Y}
	}
	return out
}

// FromPairs builds a polygon from [[x, y], ...] and validates it. A pair that is not two numbers is an
// error naming its index.
func FromPairs(pairs [][]float64) (Polygon, error) {
	p := make(Polygon, len(pairs))
	for i, xy := range pairs {
		if len(xy) != 2 {
			return nil, fmt.Errorf("%w: point %d: want [x, y], got %d numbers", ErrInvalid, i, len(xy))
		}
		p[i] = Point{xy[0], xy[1]}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Parse reads a polygon written as JSON, [[x, y], ...], and validates it.
func Parse(data []byte) (Polygon, error) {
	var pairs [][]float64
	if err := json.Unmarshal(data, &pairs); err != nil {
		return nil, fmt.Errorf("%w: want [[x, y], ...]: %w", ErrInvalid, err)
	}
	return FromPairs(pairs)
}

// Validate checks that p is a simple polygon of MinPoints to MaxPoints vertices inside the unit square
// enclosing a positive area. Errors wrap ErrInvalid and one of ErrTooFewPoints, ErrTooManyPoints,
// ErrOutside, ErrZeroArea or ErrSelfIntersecting, and name the point or edge: "point 2 (1.2, 0.5)
// outside [0,1]", "self-intersecting at edge 2 (crosses edge 0)".
func (p Polygon) Validate() error {
	switch {
	case len(p) < MinPoints:
		return fmt.Errorf("%w: %w: %d points, want at least %d", ErrInvalid, ErrTooFewPoints, len(p), MinPoints)
	case len(p) > MaxPoints:
		return fmt.Errorf("%w: %w: %d points, want at most %d", ErrInvalid, ErrTooManyPoints, len(p), MaxPoints)
	}
	for i, q := range p {
		if !(q.X >= 0 && q.X <= 1 && q.Y >= 0 && q.Y <= 1) {
			return fmt.Errorf("%w: point %d (%g, %g) %w", ErrInvalid, i, q.X, q.Y, ErrOutside)
		}
	}
	if p.collinear() {
		return fmt.Errorf("%w: %w (all points on one line)", ErrInvalid, ErrZeroArea)
	}
	n := len(p)
	for i := 0; i < n; i++ {
		if p[i] == p[(i+1)%n] {
			return fmt.Errorf("%w: %w at edge %d (points %d and %d are the same)", ErrInvalid, ErrSelfIntersecting, i, i, (i+1)%n)
		}
	}
	for i := 0; i < n; i++ {
		a0, a1 := p[i], p[(i+1)%n]
		for j := i + 1; j < n; j++ {
			b0, b1 := p[j], p[(j+1)%n]
			switch {
			case j == i+1 || (i == 0 && j == n-1):
				// Neighbours share a vertex; they must not fold back onto each other.
				var shared, ao, bo Point
				if j == i+1 {
					shared, ao, bo = a1, a0, b1
				} else {
					shared, ao, bo = a0, a1, b0
				}
				if cross(shared, ao, bo) == 0 && dot(shared, ao, bo) > 0 {
					return fmt.Errorf("%w: %w at edge %d (overlaps edge %d)", ErrInvalid, ErrSelfIntersecting, j, i)
				}
			case segmentsIntersect(a0, a1, b0, b1):
				return fmt.Errorf("%w: %w at edge %d (crosses edge %d)", ErrInvalid, ErrSelfIntersecting, j, i)
			}
		}
	}
	if a := p.Area(); a < minArea {
		return fmt.Errorf("%w: %w (area %.3g of the picture)", ErrInvalid, ErrZeroArea, a)
	}
	return nil
}

// collinear reports whether every vertex lies on the line through vertex 0 and the vertex farthest
// from it (or all vertices are the same point).
func (p Polygon) collinear() bool {
	far, best := 0, 0.0
	for i, q := range p {
		if d := (q.X-p[0].X)*(q.X-p[0].X) + (q.Y-p[0].Y)*(q.Y-p[0].Y); d > best {
			far, best = i, d
		}
	}
	if best == 0 {
		return true
	}
	for _, q := range p {
		if math.Abs(cross(p[0], p[far], q))/math.Sqrt(best) > 1e-9 {
			return false
		}
	}
	return true
}

// Area returns the polygon's area (of the unit square).
func (p Polygon) Area() float64 { return math.Abs(p.signedArea()) }

func (p Polygon) signedArea() float64 {
	var s float64
	for i := range p {
		a, b := p[i], p[(i+1)%len(p)]
		s += a.X*b.Y - b.X*a.Y
	}
	return s / 2
}

// Contains reports whether (x, y) lies inside p (even-odd rule; points exactly on an edge may fall
// either way).
func (p Polygon) Contains(x, y float64) bool {
	in := false
	n := len(p)
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := p[i], p[j]
		if (a.Y > y) != (b.Y > y) && x < (b.X-a.X)*(y-a.Y)/(b.Y-a.Y)+a.X {
			in = !in
		}
	}
	return in
}

// Bounds returns the smallest box holding p.
func (p Polygon) Bounds() Box {
	if len(p) == 0 {
		return Box{}
	}
	b := Box{p[0].X, p[0].Y, p[0].X, p[0].Y}
	for _, q := range p[1:] {
		b.X0, b.Y0 = min(b.X0, q.X), min(b.Y0, q.Y)
		b.X1, b.Y1 = max(b.X1, q.X), max(b.Y1, q.Y)
	}
	return b
}

// BoxOverlap returns the fraction of b's area that lies inside p, 0 to 1 (0 for an empty box). p is
// clipped to the box (Sutherland-Hodgman against the box's four sides, which is exact for any simple
// polygon since the box is convex) and the clipped area divided by the box's.
func (p Polygon) BoxOverlap(b Box) float64 {
	ba := b.Area()
	if ba <= 0 || len(p) < 3 {
		return 0
	}
	poly := append(Polygon(nil), p...)
	poly = clip(poly, func(q Point) float64 { return q.X - b.X0 })
	poly = clip(poly, func(q Point) float64 { return b.X1 - q.X })
	poly = clip(poly, func(q Point) float64 { return q.Y - b.Y0 })
	poly = clip(poly, func(q Point) float64 { return b.Y1 - q.Y })
	if len(poly) < 3 {
		return 0
	}
	return min(poly.Area()/ba, 1)
}

// clip keeps the part of p where side(q) >= 0 (a half-plane with a linear side function).
func clip(p Polygon, side func(Point) float64) Polygon {
	var out Polygon
	for i := range p {
		a, b := p[i], p[(i+1)%len(p)]
		sa, sb := side(a), side(b)
		if sa >= 0 {
			out = append(out, a)
		}
		if (sa >= 0) != (sb >= 0) {
			t := sa / (sa - sb)
			out = append(out, Point{a.X + t*(b.X-a.X), a.Y + t*(b.Y-a.Y)})
		}
	}
	return out
}

// cross is the z component of (a-o) x (b-o).
func cross(o, a, b Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }

// dot is (a-o) . (b-o).
func dot(o, a, b Point) float64 { return (a.X-o.X)*(b.X-o.X) + (a.Y-o.Y)*(b.Y-o.Y) }

// onSegment reports whether q, collinear with [a, b], lies within its bounding box.
func onSegment(a, b, q Point) bool {
	return min(a.X, b.X) <= q.X && q.X <= max(a.X, b.X) && min(a.Y, b.Y) <= q.Y && q.Y <= max(a.Y, b.Y)
}

// segmentsIntersect reports whether the closed segments [a0, a1] and [b0, b1] share a point.
func segmentsIntersect(a0, a1, b0, b1 Point) bool {
	d1, d2 := cross(b0, b1, a0), cross(b0, b1, a1)
	d3, d4 := cross(a0, a1, b0), cross(a0, a1, b1)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && onSegment(b0, b1, a0)) || (d2 == 0 && onSegment(b0, b1, a1)) ||
		(d3 == 0 && onSegment(a0, a1, b0)) || (d4 == 0 && onSegment(a0, a1, b1))
}
