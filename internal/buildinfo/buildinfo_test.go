package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(Collector()))
	i := Get()
	want := `# HELP mvwatch_build_info Build information of the running mvwatch; the value is always 1.
# TYPE mvwatch_build_info gauge
mvwatch_build_info{goversion="` + runtime.Version() + `",revision="` + i.Revision + `",version="` + i.Version + `"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want)))
}

// TestLinkTimeVersion builds a tiny program with -ldflags -X and checks the version it reports.
func TestLinkTimeVersion(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(main, []byte(`package main

import (
	"fmt"

	"github.com/mvwatch/mvwatch/internal/buildinfo"
)

func main() { fmt.Print(buildinfo.Get().Version) }
`), 0o644))
	// The program must live inside the module to import an internal package.
	sub, err := os.MkdirTemp(".", "linktest")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(sub) })
	require.NoError(t, os.Rename(main, filepath.Join(sub, "main.go")))
	out, err := exec.Command(gobin, "run", "-ldflags", "-X github.com/mvwatch/mvwatch/internal/buildinfo.version=v9.8.7", "./"+sub).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "v9.8.7", string(out))
	require.Contains(t, Info{Version: "v9.8.7", Revision: "0123456789abcdef", GoVersion: "go1"}.String(), "mvwatch v9.8.7 (revision 0123456789ab")
}
