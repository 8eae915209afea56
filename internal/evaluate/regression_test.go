package evaluate

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/pipeline"
)

var update = flag.Bool("update", false, "rewrite testdata/realfootage/regression.json from the current model")

// regressionFile records what the shipped model does on the committed real clips, ungated (model and
// eventizer only, so that gate changes do not move it).
const regressionFile = "regression.json"

type regression struct {
	Note  string             `json:"note"`
	Model string             `json:"model"`
	Gate  bool               `json:"gate"`
	Clips map[string][]Event `json:"clips"`
}

// TestRealFootageRegression runs the shipped model (models/mfcd) through the offline analyze path over
// the real clips committed under testdata/realfootage/clips and checks
//
//   - properties the shipped model truthfully has on them, gated and ungated: every car crossing of
//     road_topdown is found and only as an object; the 5 s exposure rise of street_residential_exposure
//     raises no illumination or tamper event while both later cars are found; the dashcam clip raises a
//     camera-motion label and no object label;
//   - the ungated events equal testdata/realfootage/regression.json (labels exactly, times within
//     0.5 s), so that a model or eventizer change that alters them fails here. After an intended change,
//     rerun with -update and review the diff (and docs/MODELS.md, "Real-footage evaluation").
func TestRealFootageRegression(t *testing.T) {
	if os.Getenv(inference.LibraryEnv) == "" {
		t.Skipf("%s is not set: the real-footage regression test needs the ONNX Runtime library (export %s=$PWD/third_party/onnxruntime/libonnxruntime.so.1)",
			inference.LibraryEnv, inference.LibraryEnv)
	}
	dir := filepath.Join("..", "..", "testdata", "realfootage")
	m, err := LoadManifest(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	model, err := pipeline.LoadModel(filepath.Join("..", "..", "models", "mfcd"), pipeline.ModelOptions{})
	require.NoError(t, err)
	t.Cleanup(model.Close)

	run := func(gate bool) map[string]ClipResult {
		rep, err := Run(context.Background(), m, PipelineAnalyzer{Model: model, Gate: gate}, Options{CommittedOnly: true})
		require.NoError(t, err)
		out := map[string]ClipResult{}
		for _, r := range rep.Results {
			out[r.Clip] = r
		}
		for _, name := range []string{"road_topdown", "street_residential_exposure", "dashcam_highway_5s"} {
			require.Contains(t, out, name, "committed clip missing from the manifest")
		}
		return out
	}
	for _, gate := range []bool{true, false} {
		t.Run(fmt.Sprintf("gate=%v", gate), func(t *testing.T) {
			res := run(gate)
			road := res["road_topdown"]
			obj := road.Groups[GroupObject]
			require.Equal(t, 4, obj.Entries, "road_topdown timeline")
			require.Equal(t, 4, obj.Found, "road_topdown: every crossing found by an object event: %+v", road.Events)
			require.Equal(t, obj.Events, obj.Matched, "road_topdown: an object event outside the crossings: %+v", road.Events)
			require.Zero(t, road.Groups[GroupCamera].Events, "road_topdown: camera-motion label on a fixed camera: %+v", road.Events)
			require.Zero(t, road.Groups[GroupScene].Events, "road_topdown: %+v", road.Events)

			exp := res["street_residential_exposure"]
			require.Zero(t, exp.Groups[GroupScene].Events, "exposure rise raised illumination/tamper: %+v", exp.Events)
			require.Equal(t, 3, exp.Groups[GroupObject].Found, "street_residential_exposure cars: %+v", exp.Events)
			require.Zero(t, exp.Groups[GroupCamera].Events, "%+v", exp.Events)

			dash := res["dashcam_highway_5s"]
			require.Positive(t, dash.Groups[GroupCamera].Matched, "dashcam: no camera-motion label: %+v", dash.Events)
			require.Zero(t, dash.Groups[GroupObject].Events, "dashcam: %+v", dash.Events)

			if gate {
				return
			}
			got := regression{Note: "Events of the shipped model on the committed real clips, ungated (go test ./internal/evaluate -run RealFootage -update rewrites this).",
				Model: "models/mfcd", Gate: false, Clips: map[string][]Event{}}
			for name, r := range res {
				got.Clips[name] = r.Events
			}
			path := filepath.Join(dir, regressionFile)
			if *update {
				b, err := json.MarshalIndent(got, "", " ")
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
				return
			}
			b, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to record the current model")
			var want regression
			require.NoError(t, json.Unmarshal(b, &want))
			require.Equal(t, len(want.Clips), len(got.Clips))
			for name, wev := range want.Clips {
				gev := got.Clips[name]
				require.Len(t, gev, len(wev), "%s: events changed: got %+v, recorded %+v (intended? rerun with -update)", name, gev, wev)
				for i := range wev {
					require.Equal(t, wev[i].Label, gev[i].Label, "%s event %d: got %+v, recorded %+v", name, i, gev[i], wev[i])
					require.InDelta(t, wev[i].Start, gev[i].Start, 0.5, "%s event %d start", name, i)
					require.InDelta(t, wev[i].End, gev[i].End, 0.5, "%s event %d end", name, i)
				}
			}
		})
	}
}
