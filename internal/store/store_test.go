package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

func openTestStore(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestStorePublishGetKeyframe(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ev.db"), Options{})
	ctx := context.Background()
	ev := eventtest.New("door", "person", 0.9, eventtest.T0)
	ev.Caption = "a person walks in"
	ev.AttachKeyframe(eventtest.JPEG)
	require.NoError(t, s.Publish(ctx, ev))

	got, err := s.Get(ev.ID)
	require.NoError(t, err)
	require.Nil(t, got.Keyframe)
	require.Equal(t, event.KeyframePath(ev.ID), got.KeyframeRef)
	require.True(t, got.Start.Equal(ev.Start))
	require.Equal(t, "a person walks in", got.Caption)
	jpeg, err := s.Keyframe(ev.ID)
	require.NoError(t, err)
	require.Equal(t, eventtest.JPEG, jpeg)

	_, err = s.Get(event.NewEventID(eventtest.T0))
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Keyframe("nope")
	require.ErrorIs(t, err, ErrNotFound)

	n, err := s.Count()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// Publishing the same ID again replaces, it does not count twice.
	ev.Score = 0.95
	require.NoError(t, s.Publish(ctx, ev))
	n, _ = s.Count()
	require.Equal(t, 1, n)
}

func TestStoreRejectsInvalidEvents(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ev.db"), Options{})
	good := eventtest.New("door", "person", 0.5, eventtest.T0)
	for name, mut := range map[string]func(*event.Event){
		"id":       func(e *event.Event) { e.ID = "x" },
		"camera":   func(e *event.Event) { e.Camera = "a b" },
		"label":    func(e *event.Event) { e.Label = "" },
		"score":    func(e *event.Event) { e.Score = 1.5 },
		"end":      func(e *event.Event) { e.End = e.Start.Add(-time.Second) },
		"keyframe": func(e *event.Event) { e.Keyframe = []byte("GIF89a") },
		"stage":    func(e *event.Event) { e.ExitStage = -1 },
	} {
		ev := good
		mut(&ev)
		require.ErrorIs(t, s.Publish(context.Background(), ev), event.ErrInvalidEvent, name)
	}
	n, _ := s.Count()
	require.Zero(t, n)
}

func TestStoreQuery(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ev.db"), Options{})
	ctx := context.Background()
	cams := []string{"door", "yard"}
	labels := []string{"person", "car", "pan"}
	var all []event.Event
	for i := 0; i < 30; i++ {
		ev := eventtest.New(cams[i%2], labels[i%3], float64(i)/30, eventtest.T0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, s.Publish(ctx, ev))
		all = append(all, ev)
	}
	ids := func(evs []event.Event) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = e.ID
		}
		return out
	}

	// Newest first by default, paged with the cursor until exhausted.
	var got []event.Event
	q := event.Query{Limit: 7}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		p, err := s.Query(q)
		require.NoError(t, err)
		got = append(got, p.Events...)
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	require.Len(t, got, 30)
	for i := range got {
		require.Equal(t, all[29-i].ID, got[i].ID)
	}

	// Ascending with filters and a time range.
	q = event.Query{Ascending: true, Camera: "door", From: eventtest.T0.Add(4 * time.Minute), To: eventtest.T0.Add(20 * time.Minute), Limit: 3}
	var want []string
	for _, e := range all[4:20] {
		if e.Camera == "door" {
			want = append(want, e.ID)
		}
	}
	got = nil
	for {
		p, err := s.Query(q)
		require.NoError(t, err)
		got = append(got, p.Events...)
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	require.Equal(t, want, ids(got))

	// Descending with a range, label and score filters.
	p, err := s.Query(event.Query{To: eventtest.T0.Add(15 * time.Minute), Label: "car", MinScore: 0.2})
	require.NoError(t, err)
	want = nil
	for i := 14; i >= 0; i-- {
		if all[i].Label == "car" && all[i].Score >= 0.2 {
			want = append(want, all[i].ID)
		}
	}
	require.Equal(t, want, ids(p.Events))
	require.Empty(t, p.NextCursor)

	// A cursor past To still respects To.
	p, err = s.Query(event.Query{To: eventtest.T0.Add(3 * time.Minute), Cursor: all[20].ID})
	require.NoError(t, err)
	require.Equal(t, []string{all[2].ID, all[1].ID, all[0].ID}, ids(p.Events))

	// Nothing matches: an empty list, not null.
	p, err = s.Query(event.Query{Camera: "garage"})
	require.NoError(t, err)
	require.NotNil(t, p.Events)
	require.Empty(t, p.Events)

	_, err = s.Query(event.Query{Cursor: "../../etc"})
	require.Error(t, err)
}

func TestStoreRetention(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	now := eventtest.T0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	s, err := Open(filepath.Join(dir, "ev.db"), Options{MaxEvents: 5, MaxAge: time.Hour, Now: clock})
	require.NoError(t, err)
	var all []event.Event
	for i := 0; i < 8; i++ {
		ev := eventtest.New("door", "person", 0.9, eventtest.T0.Add(-time.Duration(80-10*i)*time.Minute))
		ev.AttachKeyframe(eventtest.JPEG)
		require.NoError(t, s.Publish(ctx, ev))
		all = append(all, ev)
	}
	// Count retention: only the 5 newest remain, keyframes of the dropped ones too are gone.
	n, err := s.Count()
	require.NoError(t, err)
	require.Equal(t, 5, n)
	_, err = s.Get(all[2].ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Keyframe(all[2].ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Get(all[3].ID)
	require.NoError(t, err)

	// Age retention: events 3..5 started 50, 40 and 30 minutes ago... move the clock 35 minutes on.
	mu.Lock()
	now = now.Add(35 * time.Minute)
	mu.Unlock()
	dropped, err := s.Prune()
	require.NoError(t, err)
	require.Equal(t, 3, dropped) // started 50, 40, 30 minutes before eventtest.T0: older than an hour now
	require.NoError(t, s.Close())

	// The retained events survive a restart.
	s2 := openTestStore(t, filepath.Join(dir, "ev.db"), Options{MaxAge: time.Hour, Now: clock})
	n, err = s2.Count()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	p, err := s2.Query(event.Query{Ascending: true})
	require.NoError(t, err)
	require.Equal(t, all[6].ID, p.Events[0].ID)
	require.Equal(t, all[7].ID, p.Events[1].ID)
}

func TestStoreConcurrentPublish(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ev.db"), Options{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				ev := eventtest.New(fmt.Sprintf("cam%d", w), "person", 0.7, eventtest.T0.Add(time.Duration(i)*time.Second))
				require.NoError(t, s.Publish(context.Background(), ev))
			}
		}()
	}
	wg.Wait()
	n, err := s.Count()
	require.NoError(t, err)
	require.Equal(t, 80, n)
}

// TestStoreAckedEventsSurviveKill runs a child process that publishes events and prints each ID once
// Publish returns; the parent SIGKILLs it mid-stream and checks that every acknowledged event is stored.
func TestStoreAckedEventsSurviveKill(t *testing.T) {
	if path := os.Getenv("MVWATCH_STORE_CHILD"); path != "" {
		s, err := Open(path, Options{})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			ev := eventtest.New("door", "person", 0.8, eventtest.T0.Add(time.Duration(i)*time.Millisecond))
			if err := s.Publish(context.Background(), ev); err != nil {
				fmt.Println("ERR", err)
				os.Exit(1)
			}
			fmt.Println(ev.ID)
		}
	}
	path := filepath.Join(t.TempDir(), "ev.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreAckedEventsSurviveKill$")
	cmd.Env = append(os.Environ(), "MVWATCH_STORE_CHILD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 25 {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "ERR"), line)
		if event.ValidID(line) {
			acked = append(acked, line)
		}
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Len(t, acked, 25)

	s := openTestStore(t, path, Options{})
	for _, id := range acked {
		_, err := s.Get(id)
		require.NoError(t, err, "acknowledged event %s lost", id)
	}
}

// TestStoreQueryMatchesModel compares paged queries against a brute-force filter over the same events.
func TestStoreQueryMatchesModel(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "ev.db"), Options{})
	rng := rand.New(rand.NewPCG(7, 11))
	cams, labels := []string{"a", "b", "c"}, []string{"person", "car"}
	var all []event.Event
	for i := 0; i < 150; i++ {
		// Several events may share a start time; IDs still differ.
		ev := eventtest.New(cams[rng.IntN(3)], labels[rng.IntN(2)], float64(rng.IntN(11))/10, eventtest.T0.Add(time.Duration(rng.IntN(100))*time.Second))
		require.NoError(t, s.Publish(context.Background(), ev))
		all = append(all, ev)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	at := func() time.Time { return eventtest.T0.Add(time.Duration(rng.IntN(120)-10) * time.Second) }
	for n := 0; n < 200; n++ {
		q := event.Query{Limit: 1 + rng.IntN(20), Ascending: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			q.From = at()
		}
		if rng.IntN(2) == 0 {
			q.To = at()
		}
		if rng.IntN(2) == 0 {
			q.Camera = cams[rng.IntN(3)]
		}
		if rng.IntN(3) == 0 {
			q.Label = labels[rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			q.MinScore = float64(rng.IntN(11)) / 10
		}
		var want []string
		for _, e := range all {
			if (!q.From.IsZero() && e.Start.Before(q.From)) || (!q.To.IsZero() && !e.Start.Before(q.To)) ||
				(q.Camera != "" && e.Camera != q.Camera) || (q.Label != "" && e.Label != q.Label) || e.Score < q.MinScore {
				continue
			}
			want = append(want, e.ID)
		}
		if !q.Ascending {
			slices.Reverse(want)
		}
		var got []string
		for pages := 0; ; pages++ {
			require.Less(t, pages, 200)
			p, err := s.Query(q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Events), q.Limit)
			for _, e := range p.Events {
				got = append(got, e.ID)
			}
			if p.NextCursor == "" {
				break
			}
			q.Cursor = p.NextCursor
		}
		require.Equal(t, want, got, "query %d: %+v", n, q)
	}
}
