package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/harmonium-ml/harmonium/cf"
)

// Errors a request can fail with, each mapped to an HTTP status by
// statusOf. Handlers wrap them with the details.
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnknownModel = errors.New("unknown model")
	ErrTooLarge     = errors.New("request too large")
	ErrUnauthorized = errors.New("missing or wrong bearer token")
	ErrNotFound     = errors.New("not found")
	ErrOverloaded   = errors.New("server busy or shutting down")
	// ErrUnsupportedOp is an operation of POST /v1/models/{name}/{op}
	// that the model's kind does not answer (classify on an autoencoder,
	// say): a 400, whose message names the operations the kind answers.
	ErrUnsupportedOp = errors.New("operation not supported by the model's kind")
	// ErrMethodNotAllowed is a request with a method its path does not
	// answer: a 405, with the methods it answers in the Allow header.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrBodyTimeout is a request whose body did not arrive within the
	// server's read timeout: a 408.
	ErrBodyTimeout = errors.New("the body did not arrive in time")
)

// statusOf returns the HTTP status for an error.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrUnknownModel), errors.Is(err, cf.ErrUnknownUser), errors.Is(err, cf.ErrUnknownItem), errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrUnsupportedOp):
		return http.StatusBadRequest
	case errors.Is(err, ErrOverloaded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// badRequest returns an error wrapping ErrBadRequest.
func badRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, a...))
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// writeError writes err as a JSON error with its status.
func writeError(w http.ResponseWriter, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		msg = "internal error: " + msg
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="harmonium"`)
	}
	writeJSON(w, code, errorBody{Error: msg, Status: code})
}

// writeJSON writes v as the JSON body of a response with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		data, _ = json.Marshal(errorBody{Error: "encode response: " + err.Error(), Status: code})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(data, '\n'))
}

// decodeJSON reads the request body (at most limit bytes) as one JSON
// value into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, limit)
		}
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON: more than one value in the body")
	}
	return nil
}
