package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/peer"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// readGzipLines returns the lines of a gzip file.
func readGzipLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	var lines []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}

func readFileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// requirePrefixEqual checks that got starts with want, line for line, naming the first difference.
func requirePrefixEqual(t *testing.T, want, got []string, what string) {
	t.Helper()
	require.GreaterOrEqual(t, len(got), len(want), "%s: too few lines", what)
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("%s: line %d differs:\nwant %s\ngot  %s", what, i+1, want[i], got[i])
		}
	}
}

// requireSameAsPeer compares extract's output in dir with a reference set, row for row, no tolerance.
// frames is the number of frames the reference holds; extract may have produced more (the rtsp set
// lacks the stream's last frame).
func requireSameAsPeer(t *testing.T, set, dir string) {
	t.Helper()
	wantTypes := readFileLines(t, peer.Path(t, set, "frame_types.txt"))
	gotTypes := readFileLines(t, filepath.Join(dir, "frame_types.txt"))
	requirePrefixEqual(t, wantTypes, gotTypes, set+" frame types")
	frames := len(wantTypes)

	wantCounts := readFileLines(t, peer.Path(t, set, set+".mv_counts.csv"))
	requirePrefixEqual(t, wantCounts, readFileLines(t, filepath.Join(dir, "mv_counts.csv")), set+" mv counts")

	want := readGzipLines(t, peer.Path(t, set, set+".mvs.csv.gz"))
	got := readFileLines(t, filepath.Join(dir, "mvs.csv"))
	// Rows of frames the reference lacks come after all of its rows; cut them off.
	for i, line := range got {
		if i > 0 && strings.HasPrefix(line, strconv.Itoa(frames)+",") {
			got = got[:i]
			break
		}
	}
	require.Equal(t, len(want), len(got), "%s: number of rows", set)
	requirePrefixEqual(t, want, got, set+" motion vectors")
}

func TestExtractPeerFiles(t *testing.T) {
	for _, set := range []string{"h264", "mpeg4_part2"} {
		t.Run(set, func(t *testing.T) {
			video := map[string]string{"h264": "vid_h264.mp4", "mpeg4_part2": "vid_mpeg4_part2.mp4"}[set]
			dir := t.TempDir()
			n, err := extract(context.Background(), filepath.Join(peer.Dir(t), video), extractOptions{outDir: dir, npy: true, threadTy: "auto"})
			require.NoError(t, err)
			require.Equal(t, 337, n)
			requireSameAsPeer(t, set, dir)
			requireNPYMatchesCSV(t, dir, 1)
			requireNPYMatchesCSV(t, dir, 200)
		})
	}
}

// TestExtractPeerRTSP serves the peer's raw H.264 (B-frames, 3 references) with the built-in test camera
// and extracts it over RTSP with the RTSP client, as the upstream tool's authors did for the rtsp set.
func TestExtractPeerRTSP(t *testing.T) {
	src, err := ingest.OpenAnnexB(filepath.Join(peer.Dir(t), "vid_h264.264"), ingest.AnnexBOptions{})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src, Fast: true})
	require.NoError(t, cam.Start())
	defer cam.Close()

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := extract(ctx, cam.URL(), extractOptions{outDir: dir, threads: 2, threadTy: "auto", idle: time.Second, transport: "tcp", queue: 1024})
	require.NoError(t, err)
	// Every access unit arrives; the upstream reference stops one frame short of the stream's end.
	require.Equal(t, 337, n)
	requireSameAsPeer(t, "rtsp", dir)
}

// requireNPYMatchesCSV checks motion_vectors/mvs-N.npy (int32 [rows,10]) against the CSV rows of frame N.
func requireNPYMatchesCSV(t *testing.T, dir string, frame int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "motion_vectors", fmt.Sprintf("mvs-%d.npy", frame)))
	require.NoError(t, err)
	require.Equal(t, "\x93NUMPY", string(b[:6]))
	hlen := int(binary.LittleEndian.Uint16(b[8:10]))
	header := string(b[10 : 10+hlen])
	require.Contains(t, header, "'descr': '<i4'")
	data := b[10+hlen:]
	var rows []string
	for _, line := range readFileLines(t, filepath.Join(dir, "mvs.csv"))[1:] {
		if strings.HasPrefix(line, strconv.Itoa(frame)+",") {
			rows = append(rows, line)
		}
	}
	require.Contains(t, header, fmt.Sprintf("'shape': (%d, 10)", len(rows)))
	require.Len(t, data, len(rows)*10*4)
	for i, row := range rows {
		cols := strings.Split(row, ",")[1:]
		for j, c := range cols {
			v, err := strconv.Atoi(c)
			require.NoError(t, err)
			require.Equal(t, int32(v), int32(binary.LittleEndian.Uint32(data[(i*10+j)*4:])), "frame %d row %d col %d", frame, i, j)
		}
	}
}

// TestExtractMatchesFFmpegExample compares extract with FFmpeg's own extract_mvs.c example, built from
// the Debian ffmpeg-doc package, on clips this test encodes: an independent route through the C API.
func TestExtractMatchesFFmpegExample(t *testing.T) {
	exampleSrc := "/usr/share/doc/ffmpeg/examples/extract_mvs.c"
	if _, err := os.Stat(exampleSrc); err != nil {
		t.Fatalf("%s missing: install ffmpeg-doc (make setup does)", exampleSrc)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "extract_mvs")
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libavformat", "libavcodec", "libavutil").Output()
	require.NoError(t, err)
	out, err := exec.Command("sh", "-c", fmt.Sprintf("cc -O1 -o %s %s %s", bin, exampleSrc, strings.TrimSpace(string(flags)))).CombinedOutput()
	require.NoError(t, err, "build extract_mvs.c: %s", out)

	clips := map[string][]string{
		"x264_p.mp4":  {"-c:v", "libx264", "-bf", "0", "-g", "30"},
		"x264_b.mkv":  {"-c:v", "libx264", "-bf", "3", "-g", "60", "-refs", "3"},
		"mpeg4.avi":   {"-c:v", "mpeg4", "-bf", "2", "-g", "30", "-q:v", "5"},
		"mpeg2.ts":    {"-c:v", "mpeg2video", "-bf", "2", "-g", "15"},
		"x264_pan.ts": {"-c:v", "libx264", "-bf", "0", "-vf", "crop=320:240:t*20:t*10"},
	}
	for name, enc := range clips {
		t.Run(name, func(t *testing.T) {
			clip := filepath.Join(dir, name)
			args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "3"}
			args = append(append(args, enc...), clip)
			out, err := exec.Command("ffmpeg", args...).CombinedOutput()
			require.NoError(t, err, "ffmpeg: %s", out)

			ref, err := exec.Command(bin, clip).Output()
			require.NoError(t, err)
			refLines := strings.Split(strings.TrimSpace(string(ref)), "\n")[1:]

			outDir := filepath.Join(dir, name+"-out")
			_, err = extract(context.Background(), clip, extractOptions{outDir: outDir, threads: 1, threadTy: "auto"})
			require.NoError(t, err)
			var got []string
			for _, line := range readFileLines(t, filepath.Join(outDir, "mvs.csv"))[1:] {
				c := strings.Split(line, ",")
				frame, _ := strconv.Atoi(c[0])
				// extract_mvs.c: 1-based frame number, block size, src, dst, flags (always 0 here).
				got = append(got, fmt.Sprintf("%d,%2s,%2s,%2s,%4s,%4s,%4s,%4s,0x0", frame+1, c[1], c[2], c[3], c[4], c[5], c[6], c[7]))
			}
			require.NotEmpty(t, refLines)
			require.Equal(t, len(refLines), len(got))
			requirePrefixEqual(t, refLines, got, name)
		})
	}
}

func TestExtractBadInputs(t *testing.T) {
	dir := t.TempDir()
	_, err := extract(context.Background(), filepath.Join(dir, "missing.mp4"), extractOptions{outDir: filepath.Join(dir, "o1"), threadTy: "auto"})
	require.ErrorContains(t, err, "missing.mp4")

	// An RTSP URL that refuses: nothing listens on the port. The client keeps retrying, so bound it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := extract(ctx, "rtsp://user:secret@127.0.0.1:1/cam", extractOptions{outDir: filepath.Join(dir, "o2"), threadTy: "auto", idle: time.Second, transport: "tcp"})
	require.Zero(t, n)
	if err != nil {
		require.NotContains(t, err.Error(), "secret")
	}
}

func TestRunUsage(t *testing.T) {
	require.Equal(t, 2, run([]string{"nope"}))
	require.Equal(t, 0, run(nil))
	require.Equal(t, 2, run([]string{"extract"}))
}
