package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Kind is the kind of model a file holds, as its format tag says.
type Kind string

// The kinds of model harmonium writes.
const (
	KindRBM Kind = "rbm" // a restricted Boltzmann machine (FormatRBM)
	KindCF  Kind = "cf"  // a collaborative-filtering RBM (FormatCF)
	KindNN  Kind = "nn"  // a neural network (FormatNN)
	KindDBN Kind = "dbn" // a deep belief network (FormatDBN)
	KindAE  Kind = "ae"  // an autoencoder (FormatAE)
)

// Describe returns the kind for a message: "an RBM", "a neural network".
func (k Kind) Describe() string {
	switch k {
	case KindRBM:
		return "an RBM"
	case KindCF:
		return "a collaborative-filtering RBM"
	case KindNN:
		return "a neural network"
	case KindDBN:
		return "a deep belief network"
	case KindAE:
		return "an autoencoder"
	}
	return "a model of kind " + string(k)
}

// KindOf reads the metadata of the model file at path (the safetensors
// header only, not the tensors) and returns the kind its format tag names
// and the tag itself. It fails, with a one-line error naming the file, when
// the file is not a safetensors file or its format is missing or unknown.
func KindOf(path string) (Kind, string, error) {
	fail := func(format string, a ...any) (Kind, string, error) {
		return "", "", fmt.Errorf("read %s: "+format, append([]any{path}, a...)...)
	}
	f, err := os.Open(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return fail("%v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail("%v", err)
	}
	if fi.IsDir() {
		return fail("is a folder, not a model file")
	}
	var pre [8]byte
	if _, err := io.ReadFull(f, pre[:]); err != nil {
		return fail("not a model file: too short for a safetensors header")
	}
	hlen := binary.LittleEndian.Uint64(pre[:])
	if hlen > maxHeader || fi.Mode().IsRegular() && hlen > uint64(fi.Size()-8) {
		return fail("header length %d runs past the end of the file (%d bytes): truncated or not a safetensors file", hlen, fi.Size())
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(f, header); err != nil {
		return fail("truncated safetensors header")
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return fail("header is not valid JSON or its metadata does not map strings to strings: %v", oneLine(err))
	}
	format := h.Meta["format"]
	switch format {
	case FormatRBM:
		return KindRBM, format, nil
	case FormatCF:
		return KindCF, format, nil
	case FormatNN:
		return KindNN, format, nil
	case FormatDBN:
		return KindDBN, format, nil
	case FormatAE:
		return KindAE, format, nil
	case "":
		return fail("not a harmonium model: no format in the metadata")
	}
	if !printable(format) || len(format) > 100 {
		return fail("unknown model format")
	}
	return fail("unknown model format %q (this harmonium reads %s, %s, %s, %s and %s)", format, FormatRBM, FormatCF, FormatNN, FormatDBN, FormatAE)
}

// WrongKind returns the error for a model file of kind k given to a command
// that needs want ("an RBM", "a neural network"), naming the commands that
// do apply: "net.safetensors is a neural network (harmonium.nn/v1), not an
// RBM: use harmonium classify (or harmonium features --layer K)".
func WrongKind(path string, k Kind, want string) error {
	var format, use string
	switch k {
	case KindRBM:
		format, use = FormatRBM, "harmonium eval, features, reconstruct, filters or sample"
	case KindCF:
		format, use = FormatCF, "harmonium cf eval or cf recommend"
	case KindNN:
		format, use = FormatNN, "harmonium classify (or harmonium features --layer K)"
	case KindDBN:
		format, use = FormatDBN, "harmonium dbn classify, dbn sample or finetune"
	case KindAE:
		format, use = FormatAE, "harmonium eval, features, reconstruct, sample (vae) or compare"
	default:
		return fmt.Errorf("%s is %s, not %s", path, k.Describe(), want)
	}
	return fmt.Errorf("%s is %s (%s), not %s: use %s", path, k.Describe(), format, want, use)
}
