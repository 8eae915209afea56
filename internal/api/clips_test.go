package api

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// brokenClips fails every read with an error that is not "not found".
type brokenClips struct{}

func (brokenClips) OpenClip(context.Context, string) (io.ReadSeekCloser, time.Time, error) {
	return nil, time.Time{}, errors.New("bucket unreachable")
}
func (brokenClips) Has(string) bool { return false }

// FirstClips reads from the first reader that has the clip: the node's own store, then the bucket;
// a reader's failure other than "not found" is the answer (not hidden by the next reader); nil
// readers are skipped.
func TestFirstClips(t *testing.T) {
	require.Nil(t, FirstClips(nil, nil))
	local, bucket := dirClips{t.TempDir()}, dirClips{t.TempDir()}
	require.Equal(t, ClipReader(local), FirstClips(nil, local))
	id1, id2, id3 := event.NewEventID(eventtest.T0), event.NewEventID(eventtest.T0.Add(time.Second)), event.NewEventID(eventtest.T0.Add(2*time.Second))
	require.NoError(t, os.WriteFile(filepath.Join(local.dir, id1+".mp4"), []byte("local"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bucket.dir, id1+".mp4"), []byte("bucket"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bucket.dir, id2+".mp4"), []byte("bucket2"), 0o600))
	r := FirstClips(local, nil, bucket)
	read := func(id string) string {
		f, _, err := r.OpenClip(context.Background(), id)
		require.NoError(t, err)
		defer f.Close()
		b, err := io.ReadAll(f)
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, "local", read(id1))
	require.Equal(t, "bucket2", read(id2))
	require.True(t, r.Has(id2))
	require.False(t, r.Has(id3))
	_, _, err := r.OpenClip(context.Background(), id3)
	require.ErrorIs(t, err, event.ErrNotFound)
	_, _, err = FirstClips(brokenClips{}, bucket).OpenClip(context.Background(), id2)
	require.ErrorContains(t, err, "bucket unreachable")
}
