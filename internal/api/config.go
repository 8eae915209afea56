package api

import (
	"errors"
	"net/http"

	"github.com/mvwatch/mvwatch/internal/config"
)

// ErrReloadConfig wraps a reloaded config file that does not load: the running config is kept.
var ErrReloadConfig = errors.New("config not reloaded")

// reloadResult is the body of POST /api/v1/config/reload.
type reloadResult struct {
	// Changes is the one-line report (config.Diff.String).
	Changes string   `json:"changes"`
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
	// RestartNeeded lists the other sections that changed: they apply after a restart.
	RestartNeeded []string `json:"restart_needed"`
	// Errors are cameras that could not be applied (the others were).
	Errors string `json:"errors,omitempty"`
}

// reloadConfig reloads the config file and applies the camera difference, as SIGHUP does.
func (a *API) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if a.opts.Reload == nil {
		writeError(w, http.StatusNotFound, "no config file to reload here (serve without -config, or a process without cameras)")
		return
	}
	d, err := a.opts.Reload(r.Context())
	if errors.Is(err, ErrReloadConfig) {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	names := func(cs []config.Camera) []string {
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	res := reloadResult{Changes: d.String(), Added: names(d.Added), Removed: append([]string{}, d.Removed...),
		Changed: names(d.Changed), RestartNeeded: append([]string{}, d.Sections...)}
	if err != nil {
		res.Errors = err.Error()
	}
	writeJSON(w, http.StatusOK, res)
}
