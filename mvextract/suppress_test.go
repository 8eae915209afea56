package mvextract

import "testing"

func TestSuppress(t *testing.T) {
	var fld Field
	if err := fld.Reset(16, 8, 4); err != nil { // 4 x 2 cells
		t.Fatal(err)
	}
	mvs := []MotionVector{
		{Source: -1, W: 8, H: 8, DstX: 4, DstY: 4, MotionX: 8, MotionScale: 4},  // cells (0..1, 0..1)
		{Source: -1, W: 8, H: 8, DstX: 12, DstY: 4, MotionX: 8, MotionScale: 4}, // cells (2..3, 0..1)
	}
	if err := fld.Fill(mvs, false); err != nil {
		t.Fatal(err)
	}
	res := make([]int16, 16*8)
	for i := range res {
		res[i] = 5
	}
	f := &Features{Width: 16, Height: 8, Vectors: mvs, Field: &fld, HasResidual: true, Residual: res}
	cells := []bool{false, false, true, true, false, false, true, true} // the right half
	f.Suppress(cells)
	if len(f.Vectors) != 1 || f.Vectors[0].DstX != 4 {
		t.Fatalf("vectors %+v, want only the left one", f.Vectors)
	}
	for i, m := range cells {
		moving := fld.DX[i] != 0
		if m == moving {
			t.Fatalf("cell %d: masked %v, dx %v", i, m, fld.DX[i])
		}
	}
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			want := int16(5)
			if x >= 8 {
				want = 0
			}
			if res[y*16+x] != want {
				t.Fatalf("residual at %d,%d = %d, want %d", x, y, res[y*16+x], want)
			}
		}
	}
	f.Suppress(cells[:3]) // wrong size: no change
	if len(f.Vectors) != 1 {
		t.Fatal("a mask of another size changed the features")
	}
}
