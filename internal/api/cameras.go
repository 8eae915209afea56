package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
)

// CameraView is a camera as the API shows it: its configuration with secrets redacted, and its state.
type CameraView struct {
	config.Camera
	State *bus.CameraState `json:"state,omitempty"`
}

// view is c as r's identity may see it. The list leaves each state's history out (it is the fleet
// view's poll, at hundreds of cameras); one camera's view has it.
func (a *API) view(r *http.Request, c config.Camera, history bool) CameraView {
	v := CameraView{Camera: c.Redacted()}
	if st, err := a.opts.Cameras.State(c.Name); err == nil {
		if !history {
			st.History = nil
		}
		st = visibleState(r, st)
		v.State = &st
	}
	return v
}

// visibleState is st as r's identity may see it: a viewer never learns what answered at the camera's
// address, in the state's reason or in its history's.
func visibleState(r *http.Request, st bus.CameraState) bus.CameraState {
	st.Reason = auth.Reason(r.Context(), st.Reason)
	if len(st.History) > 0 {
		h := make([]bus.PhaseChange, len(st.History))
		for i, c := range st.History {
			c.Reason = auth.Reason(r.Context(), c.Reason)
			h[i] = c
		}
		st.History = h
	}
	return st
}

func (a *API) listCameras(w http.ResponseWriter, r *http.Request) {
	cams := a.opts.Cameras.List()
	out := struct {
		Cameras []CameraView `json:"cameras"`
	}{Cameras: make([]CameraView, 0, len(cams))}
	for _, c := range cams {
		out.Cameras = append(out.Cameras, a.view(r, c, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getCamera(w http.ResponseWriter, r *http.Request) {
	c, err := a.opts.Cameras.Get(r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(r, c, true))
}

func (a *API) cameraState(w http.ResponseWriter, r *http.Request) {
	st, err := a.opts.Cameras.State(r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, visibleState(r, st))
}

// readCamera decodes and validates a camera from the request body, writing the error response itself.
func (a *API) readCamera(w http.ResponseWriter, r *http.Request) (config.Camera, bool) {
	var c config.Camera
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
			return c, false
		}
		writeError(w, http.StatusBadRequest, "bad camera JSON: "+err.Error())
		return c, false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad camera JSON: trailing data")
		return c, false
	}
	if err := c.Validate(a.opts.Gate); err != nil {
		writeError(w, http.StatusBadRequest, "invalid camera: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return c, false
	}
	if err := a.opts.CameraPolicy.CheckURL(c.URL); err != nil {
		writeError(w, http.StatusBadRequest, "invalid camera: url: "+err.Error())
		return c, false
	}
	return c, true
}

func (a *API) addCamera(w http.ResponseWriter, r *http.Request) {
	c, ok := a.readCamera(w, r)
	if !ok {
		return
	}
	if err := a.opts.Cameras.Add(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/cameras/"+c.Name)
	writeJSON(w, http.StatusCreated, a.view(r, c, true))
}

// replaceCamera replaces a camera's configuration atomically (bus.Cameras.Replace): the camera is
// never missing and its open event carries on.
func (a *API) replaceCamera(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := a.readCamera(w, r)
	if !ok {
		return
	}
	if c.Name != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body names camera %q, path names %q", c.Name, name))
		return
	}
	if err := a.opts.Cameras.Replace(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(r, c, true))
}

func (a *API) removeCamera(w http.ResponseWriter, r *http.Request) {
	if err := a.opts.Cameras.Remove(r.Context(), r.PathValue("name")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
