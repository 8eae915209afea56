package mvextract

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCgoDependencies keeps mvextract pure Go: it takes frames as media values and must link neither
// FFmpeg (go-astiav), an RTSP stack (gortsplib) nor ONNX Runtime.
func TestNoCgoDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 2 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/asticode/go-astiav", "github.com/bluenviron/gortsplib", "github.com/yalue/onnxruntime_go"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("mvextract depends on %s", dep)
			}
		}
	}
}
