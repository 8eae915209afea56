package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
)

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// fail maps an error to a status: not-found, conflict and invalid-input errors keep their message;
// anything else is logged and answered with a generic 500.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, bus.ErrCameraNotFound), errors.Is(err, event.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, bus.ErrCameraExists):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, config.ErrInvalid), errors.Is(err, event.ErrInvalidEvent):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		a.opts.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
