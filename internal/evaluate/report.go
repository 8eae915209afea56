package evaluate

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

func ratio(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteMarkdown writes the report as Markdown tables: per group, per model label, per clip, and the
// nuisance and camera-motion checks.
func WriteMarkdown(w io.Writer, rep Report) error {
	var b strings.Builder
	s := rep.Summary
	fmt.Fprintf(&b, "%d clips, %.1f minutes of real footage (%d fixed-camera).\n\n", s.Clips, s.Hours*60, s.FixedClips)
	b.WriteString("| group | events | matched | precision | timeline entries | found | recall | matched events per found entry |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range Groups {
		c := s.Groups[g]
		frag := "-"
		if c.Found > 0 {
			frag = fmt.Sprintf("%.1f", float64(c.Matched)/float64(c.Found))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %d | %s | %s |\n", g, c.Events, c.Matched, ratio(c.Precision()),
			c.Entries, c.Found, ratio(c.Recall()), frag)
	}
	classes := make([]string, 0, len(s.Classes))
	for k := range s.Classes {
		classes = append(classes, k)
	}
	sort.Strings(classes)
	b.WriteString("\n| object class (timeline) | entries | found by an object label | recall |\n|---|---:|---:|---:|\n")
	for _, k := range classes {
		c := s.Classes[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", k, c.Entries, c.Found, ratio(c.Recall()))
	}
	b.WriteString("\n| model label | group | events | matched | precision |\n|---|---|---:|---:|---:|\n")
	labels := make([]string, 0, len(s.Labels))
	for l := range s.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		c := s.Labels[l]
		g := LabelGroup(l)
		if g == GroupNone {
			g = "(none)"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s |\n", l, g, c.Events, c.Matched, ratio(c.Precision()))
	}
	fmt.Fprintf(&b, "\n- Nuisance on static clips: %d events in %.1f s = %s per hour.\n", s.StaticEvents, s.StaticHours*3600,
		perHour(PerHour(s.StaticEvents, s.StaticHours)))
	fmt.Fprintf(&b, "- Nuisance in quiet time (events that no timeline entry overlaps), all clips: %d events in %.1f s = %s per hour.\n",
		s.Nuisance, s.QuietHours*3600, perHour(PerHour(s.Nuisance, s.QuietHours)))
	total := 0
	for _, n := range s.DuringObjects {
		total += n
	}
	if total > 0 {
		fmt.Fprintf(&b, "- Events during object activity alone on fixed cameras: %d; labelled object %d (%.0f%%), camera motion %d, illumination/tamper %d.\n",
			total, s.DuringObjects[GroupObject], 100*float64(s.DuringObjects[GroupObject])/float64(total),
			s.DuringObjects[GroupCamera], s.DuringObjects[GroupScene])
	}
	yes := "no"
	if s.CameraOnObjects > 0 {
		yes = "yes"
	}
	fmt.Fprintf(&b, "- Camera-motion label on a fixed camera while only objects moved: %s (%d events).\n", yes, s.CameraOnObjects)
	for _, sk := range rep.Skipped {
		fmt.Fprintf(&b, "- Skipped %s.\n", sk)
	}
	b.WriteString("\n| clip | camera | s | gate skip | events (label start-end) | object P/R | camera P/R | illum/tamper P/R | nuisance | cam-on-objects |\n")
	b.WriteString("|---|---|---:|---:|---|---|---|---|---:|---:|\n")
	for _, r := range rep.Results {
		var evs []string
		for _, e := range r.Events {
			evs = append(evs, fmt.Sprintf("%s %.1f-%.1f", e.Label, e.Start, e.End))
		}
		ev := strings.Join(evs, "; ")
		if ev == "" {
			ev = "none"
		}
		pr := func(g string) string {
			c := r.Groups[g]
			return ratio(c.Precision()) + "/" + ratio(c.Recall())
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.0f%% | %s | %s | %s | %s | %d | %d |\n", r.Clip, r.Camera, r.Duration,
			100*r.SkipRatio, ev, pr(GroupObject), pr(GroupCamera), pr(GroupScene), r.Nuisance, r.CameraOnObjects)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func perHour(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}
