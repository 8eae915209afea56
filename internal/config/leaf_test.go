package config

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLeaf checks that config links no stage package and no cgo: go list -deps of this package shows
// no FFmpeg, RTSP or ONNX Runtime binding, no mvwatch package but itself and the leaves it uses
// (internal/redact and internal/zone, standard library only), and no runtime/cgo.
func TestLeaf(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "go list -deps:\n%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "gopkg.in/yaml.v3", "the listing should hold the dependencies")
	for _, d := range deps {
		for _, banned := range []string{"github.com/asticode/go-astiav", "github.com/bluenviron/gortsplib",
			"github.com/yalue/onnxruntime_go", "runtime/cgo"} {
			require.False(t, strings.HasPrefix(d, banned), "config depends on %s", d)
		}
		if strings.HasPrefix(d, "github.com/mvwatch/mvwatch/") {
			require.Contains(t, []string{"github.com/mvwatch/mvwatch/internal/config", "github.com/mvwatch/mvwatch/internal/redact",
				"github.com/mvwatch/mvwatch/internal/zone"}, d,
				"config imports another mvwatch package")
		}
	}
}
