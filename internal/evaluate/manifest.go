// Package evaluate measures the event pipeline on real footage: a manifest of public clips (source
// repository, commit, path, licence, sha256), a hand-made timeline per clip of what happens in it, and
// an event-level score of what `mvwatch analyze` reports against those timelines.
//
// The set lives in testdata/realfootage. It is an evaluation set only: nothing in it may be used to
// train or tune a model, a threshold or the gate.
package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ManifestSchema is the schema string of a real-footage manifest.
const ManifestSchema = "mvwatch.realfootage.v1"

// Manifest lists the clips of a real-footage evaluation set.
type Manifest struct {
	Schema string `json:"schema"`
	// Purpose says what the set may be used for (evaluation only).
	Purpose string `json:"purpose"`
	// CommittedClips lists, for a reader, the clips that are committed to the repository.
	CommittedClips []string `json:"committed_clips,omitempty"`
	// Fetch says how the other clips are fetched.
	Fetch string `json:"fetch,omitempty"`
	// Encode is the one H.264 profile every clip is re-encoded to before analysis.
	Encode EncodeSpec `json:"encode"`
	Clips  []Clip     `json:"clips"`

	dir string // the manifest's folder; relative paths resolve against it
}

// EncodeSpec is how a source clip becomes the H.264 stream the pipeline analyses (ffmpeg libx264).
type EncodeSpec struct {
	// Width is the output width in pixels (height keeps the aspect ratio, rounded to even).
	Width int `json:"width"`
	// GOPSeconds is the keyframe interval in seconds.
	GOPSeconds float64 `json:"gop_seconds"`
	// CRF is libx264's constant rate factor.
	CRF int `json:"crf"`
	// Preset is libx264's preset.
	Preset string `json:"preset"`
	// BFrames is the number of B-frames (0, as most IP cameras send).
	BFrames int `json:"bframes"`
}

// Clip is one clip of the set.
type Clip struct {
	// Name is the clip's short name; its timeline is timelines/<Name>.json unless Timeline says otherwise.
	Name string `json:"name"`
	// Scene says in a few words what the camera sees.
	Scene string `json:"scene"`
	// Camera is "fixed" or "moving".
	Camera string `json:"camera"`
	// Static marks a clip with no object activity (for nuisance events per hour).
	Static bool `json:"static"`
	// Repository, Commit and Path locate the source file on GitHub.
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
	Path       string `json:"path"`
	// Licence is the SPDX identifier of the source repository's licence; LicenceNote adds what the
	// repository says about the clip itself.
	Licence     string `json:"licence"`
	LicenceNote string `json:"licence_note,omitempty"`
	// SHA256 and Bytes identify the source file as fetched.
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Duration is the source clip's length in seconds.
	Duration float64 `json:"duration"`
	// Source is where the fetched original lives, relative to the manifest (in the gitignored cache).
	Source string `json:"source"`
	// Committed, when set, is a committed H.264 cut of the clip (relative to the manifest) that is
	// analysed as-is instead of the original; CutNote says how it was cut.
	Committed       string `json:"committed,omitempty"`
	CommittedSHA256 string `json:"committed_sha256,omitempty"`
	CutNote         string `json:"cut_note,omitempty"`
	// RegressionOnly marks a committed cut of a clip that the full evaluation already holds: it is
	// evaluated only with Options.CommittedOnly (the regression test), so no footage counts twice.
	RegressionOnly bool `json:"regression_only,omitempty"`
	// Timeline overrides the timeline path (relative to the manifest).
	Timeline string `json:"timeline,omitempty"`
}

// LoadManifest reads a manifest file.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evaluate: read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("evaluate: parse manifest %s: %w", path, err)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("evaluate: manifest %s: schema %q, want %q", path, m.Schema, ManifestSchema)
	}
	if m.Encode.Width <= 0 || m.Encode.GOPSeconds <= 0 || m.Encode.Preset == "" {
		return nil, fmt.Errorf("evaluate: manifest %s: encode needs width, gop_seconds and preset", path)
	}
	seen := map[string]bool{}
	for i, c := range m.Clips {
		if c.Name == "" || seen[c.Name] {
			return nil, fmt.Errorf("evaluate: manifest %s: clip %d: empty or repeated name %q", path, i, c.Name)
		}
		seen[c.Name] = true
		if c.Camera != "fixed" && c.Camera != "moving" {
			return nil, fmt.Errorf("evaluate: manifest %s: clip %s: camera %q, want fixed or moving", path, c.Name, c.Camera)
		}
		if c.Repository == "" || len(c.Commit) != 40 || c.Path == "" || c.Licence == "" || len(c.SHA256) != 64 {
			return nil, fmt.Errorf("evaluate: manifest %s: clip %s: repository, commit, path, licence and sha256 are required", path, c.Name)
		}
	}
	m.dir = filepath.Dir(path)
	return &m, nil
}

// Resolve turns a manifest-relative path into a path usable from the working directory.
func (m *Manifest) Resolve(rel string) string {
	if rel == "" || filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(m.dir, rel)
}

// TimelinePath is where clip c's timeline lives.
func (m *Manifest) TimelinePath(c Clip) string {
	if c.Timeline != "" {
		return m.Resolve(c.Timeline)
	}
	return m.Resolve(filepath.Join("timelines", c.Name+".json"))
}

// ErrMissing reports a clip whose original is not in the cache (run scripts/fetch-realfootage.sh).
var ErrMissing = errors.New("evaluate: clip not fetched")

// VerifySource checks that clip c's fetched original exists and has the manifest's sha256.
func (m *Manifest) VerifySource(c Clip) (string, error) {
	p := m.Resolve(c.Source)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s (%s)", ErrMissing, c.Name, p)
	}
	if err := checkSHA256(p, c.SHA256); err != nil {
		return "", fmt.Errorf("evaluate: %s: %w", c.Name, err)
	}
	return p, nil
}

// checkSHA256 checks that the file at p hashes to want (hex).
func checkSHA256(p, want string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hash %s: %w", p, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: sha256 %s, manifest says %q", p, got, want)
	}
	return nil
}
