package testcam

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
)

// Fleet is a set of test cameras started together, each on its own loopback port: the load of
// `mvwatch bench serve`. A Fleet can also run in another process (`mvwatch testcam -n N -control`),
// so that serving the cameras does not share the measured process's CPU: RemoteFleet drives it over
// the child's stdin and stdout with the control protocol of ServeControl.
type Fleet struct {
	cams []*Camera
}

// FleetStats are the cameras' counters, by camera index.
type FleetStats struct {
	// Sent is the access units each camera sent.
	Sent []uint64 `json:"sent"`
	// Dropped is the RTP packets each camera dropped because its reader's queue was full.
	Dropped []uint64 `json:"dropped"`
}

// StartFleet starts n cameras on 127.0.0.1, camera i reading newSource(i). On an error the cameras
// already started are closed.
func StartFleet(n int, newSource func(i int) (Source, error), log *slog.Logger) (*Fleet, error) {
	f := &Fleet{}
	for i := range n {
		src, err := newSource(i)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("test camera %d: %w", i, err)
		}
		cam := New(Config{Address: "127.0.0.1:0", Source: src, Log: log})
		if err := cam.Start(); err != nil {
			f.Close()
			return nil, fmt.Errorf("test camera %d: %w", i, err)
		}
		f.cams = append(f.cams, cam)
	}
	return f, nil
}

// URLs are the cameras' rtsp:// addresses, by index.
func (f *Fleet) URLs() []string {
	urls := make([]string, len(f.cams))
	for i, c := range f.cams {
		urls[i] = c.URL()
	}
	return urls
}

// Stats reads the cameras' counters; it never fails (the error is for RemoteFleet's sake).
func (f *Fleet) Stats() (FleetStats, error) {
	st := FleetStats{Sent: make([]uint64, len(f.cams)), Dropped: make([]uint64, len(f.cams))}
	for i, c := range f.cams {
		st.Sent[i], st.Dropped[i] = c.Sent(), c.Dropped()
	}
	return st, nil
}

// Close stops every camera.
func (f *Fleet) Close() {
	for _, c := range f.cams {
		c.Close()
	}
}

// fleetHello is the control protocol's first line.
type fleetHello struct {
	URLs []string `json:"urls"`
}

// ServeControl runs the control protocol: it writes one JSON line {"urls": [...]}, then answers each
// line "stats" read from in with one JSON line of FleetStats. It returns nil when in ends (the
// parent closed it), and an error on an unknown request or a failed write.
func (f *Fleet) ServeControl(in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	if err := enc.Encode(fleetHello{URLs: f.URLs()}); err != nil {
		return fmt.Errorf("fleet control: %w", err)
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if req := strings.TrimSpace(sc.Text()); req != "stats" {
			return fmt.Errorf("fleet control: unknown request %q", req)
		}
		st, _ := f.Stats()
		if err := enc.Encode(st); err != nil {
			return fmt.Errorf("fleet control: %w", err)
		}
	}
	return sc.Err()
}

// RemoteFleet is a Fleet running in a child process that speaks ServeControl's protocol on its
// stdin and stdout.
type RemoteFleet struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	urls []string
}

// StartRemoteFleet starts cmd (for example `mvwatch testcam -n 200 -control`) and reads its cameras'
// URLs. The child's stderr is left as cmd has it.
func StartRemoteFleet(cmd *exec.Cmd) (*RemoteFleet, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("remote fleet: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("remote fleet: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("remote fleet: %w", err)
	}
	r := &RemoteFleet{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<16)}
	var hello fleetHello
	if err := r.readLine(&hello); err != nil {
		_ = r.Close()
		return nil, err
	}
	r.urls = hello.URLs
	return r, nil
}

// URLs are the child's cameras' addresses, by index.
func (r *RemoteFleet) URLs() []string { return r.urls }

// Stats asks the child for its cameras' counters.
func (r *RemoteFleet) Stats() (FleetStats, error) {
	var st FleetStats
	if _, err := io.WriteString(r.in, "stats\n"); err != nil {
		return st, fmt.Errorf("remote fleet: %w", err)
	}
	err := r.readLine(&st)
	if err == nil && (len(st.Sent) != len(r.urls) || len(st.Dropped) != len(r.urls)) {
		err = fmt.Errorf("remote fleet: stats for %d/%d cameras, want %d", len(st.Sent), len(st.Dropped), len(r.urls))
	}
	return st, err
}

// Close ends the child (closing its stdin makes it stop its cameras and exit) and waits for it.
func (r *RemoteFleet) Close() error {
	_ = r.in.Close()
	if err := r.cmd.Wait(); err != nil {
		return fmt.Errorf("remote fleet: %w", err)
	}
	return nil
}

// readLine reads one JSON line of the protocol into v.
func (r *RemoteFleet) readLine(v any) error {
	line, err := r.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("remote fleet: read: %w", err)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("remote fleet: bad line %.80q: %w", line, err)
	}
	return nil
}
