package track

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/mvextract"
)

// sceneClip is the scripted scene (internal/testcam/clip/scene.264).
var sceneClip = filepath.Join("..", "testcam", "clip", "scene.264")

// decodedFrame is one frame's luma (a copy) and its features' results, for tests.
type decodedFrame struct {
	index  int
	w, h   int
	y      []byte // luma, stride w
	result Frame  // deep-copied
}

// runScene decodes path with motion vectors and pixels, feeds every frame to a Scene built from cfg
// and returns each frame's luma and results.
func runScene(t *testing.T, path string, cfg Config) []decodedFrame {
	t.Helper()
	s := NewScene(cfg)
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{NoResidual: true})
	defer ex.Close()
	var out []decodedFrame
	src := source.New(source.Config{Input: path, Camera: "t",
		Decoder: demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1}})
	err := src.Run(context.Background(), func(fr *media.Frame) error {
		ft, err := ex.Process(fr)
		if err != nil {
			return err
		}
		r := s.Frame(ft)
		df := decodedFrame{index: len(out), w: fr.Width, h: fr.Height, y: make([]byte, fr.Width*fr.Height)}
		for row := 0; row < fr.Height; row++ {
			copy(df.y[row*fr.Width:(row+1)*fr.Width], fr.Y[row*fr.YStride:])
		}
		df.result = Frame{PTS: r.PTS, Zones: r.Zones,
			Detections: append([]Detection(nil), r.Detections...),
			Tracks:     append([]Track(nil), r.Tracks...),
			Events:     append([]ZoneEvent(nil), r.Events...)}
		out = append(out, df)
		return nil
	})
	require.NoError(t, err)
	return out
}

func exp(v float64) float64 { return math.Exp(v) }
