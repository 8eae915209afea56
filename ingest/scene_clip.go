package ingest

import (
	_ "embed" // the scripted scene
)

// sceneClip is the scripted camera scene that `mvwatch serve` plays by default and its end-to-end test
// uses: 448x256, 15 fps, 192 pictures (12.8 s), H.264 without B-frames, IDR every 2 s. A fixed view of a
// held-out photographic background with sensor noise and a swaying patch where an object crosses left to
// right, then the camera pans, with idle stretches between (clip/scene.json has the segments). It is
// rendered by `python -m training.fixtures scene-clip --out ingest/clip/scene.264`.
//
//go:embed clip/scene.264
var sceneClip []byte

// SceneClip returns the scripted scene as a raw H.264 Annex-B stream. The slice must not be modified.
func SceneClip() []byte { return sceneClip }

// NewSceneSource returns an AUSource over the scripted scene at 15 fps, optionally looped.
func NewSceneSource(loop bool) (*AnnexBSource, error) {
	return NewAnnexBSource(sceneClip, AnnexBOptions{Loop: loop, FrameRate: 15})
}
