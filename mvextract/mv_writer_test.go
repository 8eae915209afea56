package mvextract

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMVWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	w, err := NewMVWriter(dir, true, true)
	require.NoError(t, err)
	const fw, fh = 32, 32
	y := scenePlane(fw, fh, fw, 0, 0)
	require.NoError(t, w.Write(frameOf(0, 'I', fw, fh, fw, y, nil)))
	mvs := []MotionVector{vector(-1, 16, 16, 8, 8, -4, 2, 4)}
	require.NoError(t, w.Write(frameOf(1, 'P', fw, fh, fw, scenePlane(fw, fh, fw, 1, 0), mvs)))
	require.Equal(t, 2, w.Frames())
	require.NoError(t, w.Close())

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, "frame,source,w,h,src_x,src_y,dst_x,dst_y,motion_x,motion_y,motion_scale\n1,-1,16,16,7,8,8,8,-4,2,4\n", read("mvs.csv"))
	require.Equal(t, "0,0\n1,1\n", read("mv_counts.csv"))
	require.Equal(t, "I\nP\n", read("frame_types.txt"))
	var want bytes.Buffer
	require.NoError(t, WriteNPY(&want, "int32", []int{1, 10}, []int32{-1, 16, 16, 7, 8, 8, 8, -4, 2, 4}))
	require.Equal(t, want.String(), read("motion_vectors/mvs-1.npy"))
	for _, name := range []string{"motion_vectors/mvs-0.npy", "residuals/res-0.npy", "residuals/res-1.npy", "fields/field-0.npy", "fields/field-1.npy"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
}
