// Package buildinfo says which mvwatch this is: the version (set at link time with
// -ldflags "-X github.com/mvwatch/mvwatch/internal/buildinfo.version=v1.2.3" (and .revision), else the
// module version,
// else "devel"), the VCS revision and time Go recorded, and the Go version. It backs `mvwatch version`
// and the mvwatch_build_info metric.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version and revision are set at link time (make build does, from git); empty means "ask the build
// info" (go build stamps it unless -buildvcs=false).
var version, revision string

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// Get returns the running binary's build information.
func Get() Info {
	info := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Revision == "" {
					info.Revision = s.Value
				}
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}

// String is the one line `mvwatch version` prints.
func (i Info) String() string {
	rev := i.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if i.Modified {
		rev += "+dirty"
	}
	s := fmt.Sprintf("mvwatch %s (revision %s", i.Version, rev)
	if i.Time != "" {
		s += ", " + i.Time
	}
	return s + ", " + i.GoVersion + ")"
}

// Collector returns the mvwatch_build_info gauge: always 1, with the version, revision and Go version
// as labels (the Prometheus convention for build information).
func Collector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_build_info",
		Help:        "Build information of the running mvwatch; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion}})
	g.Set(1)
	return g
}
