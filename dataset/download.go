package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/harmonium-ml/harmonium/internal/atomicfile"
)

// MNISTFile is one file of the MNIST distribution and the SHA-256 of its
// uncompressed contents (mirrors recompress the files, so the checksum of the
// .gz itself varies while the contents do not).
type MNISTFile struct{ Name, SHA256 string }

// MNISTFiles are the four files of MNIST, as distributed by Yann LeCun.
var MNISTFiles = []MNISTFile{
	{"train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
	{"train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
	{"t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
	{"t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
}

// maxMNISTBytes bounds what is read, downloaded or decompressed for an
// MNIST file: larger than any of them, compressed or not (the biggest,
// train-images-idx3-ubyte, is 47,040,016 bytes uncompressed), so that a
// hostile server or a stray file in the cache cannot exhaust memory or time.
const maxMNISTBytes = 64 << 20

// DefaultMNISTURL is where MNIST is downloaded from unless HARMONIUM_MNIST_URL
// names another folder URL holding the same four files.
const DefaultMNISTURL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

// MNISTURL returns the base URL to download MNIST from.
func MNISTURL() string {
	if u := os.Getenv("HARMONIUM_MNIST_URL"); u != "" {
		return u
	}
	return DefaultMNISTURL
}

// CacheDir returns the folder where harmonium keeps downloaded data:
// $HARMONIUM_CACHE, or "harmonium" in the user's cache folder.
func CacheDir() (string, error) {
	if d := os.Getenv("HARMONIUM_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache folder: %w (set HARMONIUM_CACHE)", err)
	}
	return filepath.Join(d, "harmonium"), nil
}

// Progress is told how far a download has got; total is -1 when unknown.
type Progress func(file string, done, total int64)

// DownloadMNIST makes sure dir holds the four MNIST files, downloading the
// missing ones from baseURL and checking every file's SHA-256. A file is
// written only after its checksum matches.
func DownloadMNIST(ctx context.Context, baseURL, dir string, progress Progress) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, pathErr(err))
	}
	for _, f := range MNISTFiles {
		dst := filepath.Join(dir, f.Name)
		if b, err := readCached(dst); err == nil && contentSHA256(b) == f.SHA256 {
			continue
		}
		if err := download(ctx, f, baseURL, dst, progress); err != nil {
			return err
		}
	}
	return nil
}

func download(ctx context.Context, f MNISTFile, baseURL, dst string, progress Progress) error {
	url := strings.TrimSuffix(baseURL, "/") + "/" + f.Name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	pr := &progressReader{r: resp.Body, name: f.Name, total: resp.ContentLength, fn: progress}
	body, err := io.ReadAll(io.LimitReader(pr, maxMNISTBytes+1))
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if len(body) > maxMNISTBytes {
		return fmt.Errorf("download %s: more than %d bytes, too large for an MNIST file", url, maxMNISTBytes)
	}
	if got := contentSHA256(body); got != f.SHA256 {
		return fmt.Errorf("download %s: SHA-256 of the contents is %s, expected %s", url, got, f.SHA256)
	}
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	})
}

// readCached returns the contents of a file already in the cache, or an
// error when it cannot be read or is too large to be an MNIST file.
func readCached(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMNISTBytes+1))
	if err == nil && len(b) > maxMNISTBytes {
		err = fmt.Errorf("%s: too large for an MNIST file", path)
	}
	return b, err
}

// contentSHA256 returns the SHA-256 of b, gunzipped when it is gzip data
// ("" when the gzip data is corrupt or decompresses to more than
// maxMNISTBytes).
func contentSHA256(b []byte) string {
	var r io.Reader = bytes.NewReader(b)
	if len(b) > 1 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return ""
		}
		r = zr
	}
	h := sha256.New()
	if n, err := io.Copy(h, io.LimitReader(r, maxMNISTBytes+1)); err != nil || n > maxMNISTBytes {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

type progressReader struct {
	r     io.Reader
	name  string
	done  int64
	total int64
	fn    Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.name, p.done, p.total)
	}
	return n, err
}
