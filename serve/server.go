// Package serve answers HTTP requests with harmonium's models: recommendations,
// predictions and similar items from collaborative-filtering models, ratings
// collected into a database and used at once, features, reconstructions and
// anomaly scores from RBMs, deep belief networks and autoencoders, and
// classes from neural-network classifiers (instances as JSON or .npy), with
// health checks, Prometheus metrics and an OpenAPI description. See the
// README's "Serving" section and serve/openapi.json for the endpoints.
package serve

import (
	"bytes"
	"context"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/harmonium-ml/harmonium/serve/ratingstore"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI description of the endpoints.
func OpenAPI() []byte { return openAPI }

// Defaults of Options.
const (
	DefaultMaxBody  = 1 << 20 // bytes
	DefaultMaxBatch = 1024    // instances or ratings per request
	DefaultTopMax   = 1000    // largest n of recommend and similar
)

// Options are a Server's settings; zero values take the defaults.
type Options struct {
	DB       string            // the ratings database's file (required)
	MaxBody  int64             // largest request body in bytes (DefaultMaxBody)
	MaxBatch int               // most instances or ratings in one request (DefaultMaxBatch)
	Workers  int               // requests worked on at once; others queue (GOMAXPROCS)
	Token    string            // bearer token required by POST /v1/ratings ("" none)
	Titles   map[string]string // item titles by id, for responses
	Logger   *slog.Logger      // one line per request (slog.Default())
}

// Server is an http.Handler serving models and a ratings database. It is
// safe for concurrent use.
type Server struct {
	opt       Options
	models    map[string]*Model
	order     []string // model names as given
	defaultCF *Model   // the first cf model, for recommender endpoints
	store     *ratingstore.Store
	users     *userState
	slots     chan struct{}
	bodies    chan struct{} // bodies read ahead of their work slot
	metrics   *metrics
	handler   http.Handler
	draining  atomic.Bool
}

// New returns a Server for models (each name once), opening or creating
// the ratings database and folding the ratings stored there into the cf
// models' users.
func New(models []*Model, opt Options) (*Server, error) {
	if opt.DB == "" {
		return nil, errors.New("serve: no ratings database (Options.DB)")
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Server{opt: opt, models: map[string]*Model{}, slots: make(chan struct{}, opt.Workers), metrics: newMetrics()}
	s.bodies = make(chan struct{}, bodySlots(opt))
	for _, m := range models {
		if _, dup := s.models[m.Name]; dup {
			return nil, fmt.Errorf("serve: two models named %q", m.Name)
		}
		s.models[m.Name] = m
		s.order = append(s.order, m.Name)
		if m.Kind == KindCF && s.defaultCF == nil {
			s.defaultCF = m
		}
		s.metrics.loadTime.WithLabelValues(m.Name, m.Kind).Set(m.LoadTime.Seconds())
	}
	s.users = newUserState(models)
	store, err := ratingstore.Open(opt.DB, s.users.committed)
	if err != nil {
		return nil, err
	}
	s.store = store
	if err := s.loadRatings(); err != nil {
		store.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// loadRatings folds the ratings stored in the database into the cf
// models' users, once each is checked as a posted rating is: the database
// may have been written by another program, or with models of another
// scale.
func (s *Server) loadRatings() error {
	all, err := s.store.All(context.Background())
	if err != nil {
		return err
	}
	for _, r := range all.List {
		if err := s.users.checkValue(r.Value); err != nil {
			return fmt.Errorf("ratings database %s: the rating of user %q for item %q: %w", s.opt.DB, r.User, r.Item, err)
		}
	}
	s.users.committed(all.List)
	return nil
}

// Close stops answering readiness checks and closes the database after
// the writes in progress; call it once the HTTP server has shut down.
func (s *Server) Close() error {
	s.draining.Store(true)
	return s.store.Close()
}

// Drain makes /readyz fail, so that load balancers stop sending requests
// before shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// ServeHTTP answers a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes returns the handler of every endpoint, wrapped in the logging and
// metrics middleware.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.Handle("GET /v1/recommend/{user}", s.work(s.recommend))
	mux.Handle("GET /v1/predict/{user}/{item}", s.work(s.predict))
	mux.Handle("GET /v1/similar/{item}", s.work(s.similar))
	mux.Handle("POST /v1/ratings", s.withToken(s.work(s.postRatings)))
	mux.Handle("POST /v1/models/{name}/{op}", s.work(s.modelOp))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(mux, r); allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, fmt.Errorf("%w: %s %s (it answers %s)", ErrMethodNotAllowed, r.Method, r.URL.Path, allow))
			return
		}
		writeError(w, fmt.Errorf("%w: no endpoint %s %s (see /openapi.json)", ErrNotFound, r.Method, r.URL.Path))
	})
	return s.observe(mux)
}

// allowed returns the methods mux answers for r's path, other than the
// catch-all's, as the Allow header of a 405 lists them ("" for none).
func allowed(mux *http.ServeMux, r *http.Request) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		if _, pattern := mux.Handler(&http.Request{Method: m, URL: r.URL, Host: r.Host}); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// work wraps a handler that computes: it reads the request's body, then
// waits for one of the work slots (as many as cores), so that requests
// queue rather than oversubscribe the cores, and turns the error it
// returns into a JSON error response.
func (s *Server) work(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.compute(w, r, h); err != nil {
			writeError(w, err)
		}
	})
}

// compute reads r's body into memory, holding one of the body slots until
// h returns, then waits for a work slot and runs h: a client sending its
// body slowly holds no work slot, so other requests are computed
// meanwhile, and the bodies held at once stay within bodyBudget.
func (s *Server) compute(w http.ResponseWriter, r *http.Request, h func(w http.ResponseWriter, r *http.Request) error) error {
	if r.Body != nil && r.Body != http.NoBody {
		if err := acquire(r, s.bodies); err != nil {
			return err
		}
		defer func() { <-s.bodies }()
		if err := s.readBody(w, r); err != nil {
			return err
		}
	}
	if err := acquire(r, s.slots); err != nil {
		return err
	}
	defer func() { <-s.slots }()
	return h(w, r)
}

// acquire takes one of the slots of sem, waiting until one is free or the
// request ends.
func acquire(r *http.Request, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-r.Context().Done():
		return fmt.Errorf("%w: %v", ErrOverloaded, r.Context().Err())
	}
}

// bodyBudget bounds the memory held by request bodies read ahead of their
// work slots, unless MaxBody is so large that bodySlots' floor applies.
const bodyBudget = 256 << 20

// bodySlots is how many request bodies may be in memory at once: as many
// as MaxBody allows within bodyBudget (at most 1,024), and at least four
// per work slot.
func bodySlots(opt Options) int {
	return max(4*opt.Workers, int(min(bodyBudget/opt.MaxBody, 1024)))
}

// readBody reads the body of a request, at most MaxBody bytes, into
// memory, so that the handler reads it from there.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, s.opt.MaxBody)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ErrBodyTimeout
		}
		return badRequest("reading the body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	return nil
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// observe refuses paths that are not clean (with "..", "//" or "." segments:
// no path is ever looked up on disk, and such paths would otherwise be
// redirected) and query strings that do not parse, then counts, times and
// logs every request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		if err := checkURL(r.URL); err != nil {
			writeError(sw, err)
		} else {
			next.ServeHTTP(sw, r)
		}
		s.metrics.inflight.Dec()
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		code, method := fmt.Sprint(sw.code), methodLabel(r.Method)
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(route, method, code).Inc()
		s.metrics.latency.WithLabelValues(route, method, code).Observe(d.Seconds())
		s.opt.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("route", route), slog.Int("status", sw.code),
			slog.Int("bytes", sw.bytes), slog.Float64("ms", float64(d.Microseconds())/1000), slog.String("remote", r.RemoteAddr))
	})
}

// checkURL refuses a path that is not clean and a query string that does
// not parse (a bad %-escape, a ';' between parameters), whose parameters
// would otherwise be dropped without a word.
func checkURL(u *url.URL) error {
	if p := u.Path; p == "" || p[0] != '/' || path.Clean(p) != p && !(strings.HasSuffix(p, "/") && path.Clean(p)+"/" == p) {
		return badRequest("path %q is not canonical (no '.', '..' or empty segments)", p)
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return badRequest("malformed query string %.100q: %v", u.RawQuery, err)
	}
	return nil
}

// methodLabel returns the method of a request as a metrics label: one of
// the standard methods, or "other" for any other token a client sends, so
// that clients cannot add time series without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// readyz answers 200 when the models are loaded and the database answers,
// 503 otherwise (and while shutting down).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, fmt.Errorf("%w: shutting down", ErrOverloaded))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeError(w, fmt.Errorf("%w: %v", ErrOverloaded, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "models": len(s.models), "database": s.store.Path()})
}

// listModels answers GET /v1/models.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	list := make([]map[string]any, 0, len(s.order))
	for _, name := range s.order {
		list = append(list, s.models[name].info())
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": list})
}

// withToken wraps a handler that requires the bearer token (when one is
// set): requests without it are refused before their body is read.
func (s *Server) withToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorized(r); err != nil {
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized checks the bearer token when one is required.
func (s *Server) authorized(r *http.Request) error {
	if s.opt.Token == "" {
		return nil
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), []byte(s.opt.Token)) != 1 {
		return ErrUnauthorized
	}
	return nil
}
