package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/serve"
)

func init() {
	commands = append(commands, command{"serve", "serve models over HTTP: recommendations, ratings into a database, features and scores", runServe})
}

// modelFlags collects repeated --model NAME=FILE flags.
type modelFlags []string

func (m *modelFlags) String() string     { return strings.Join(*m, ",") }
func (m *modelFlags) Set(s string) error { *m = append(*m, s); return nil }

const serveExamples = `harmonium serve --model ml=ml.safetensors --items ml-100k/u.item --db ratings.db

  curl localhost:8080/v1/recommend/42?n=5
  curl localhost:8080/v1/predict/42/50
  curl localhost:8080/v1/similar/50?n=5
  curl -X POST localhost:8080/v1/ratings -H 'Authorization: Bearer TOKEN' \
       -d '[{"user":"42","item":"50","rating":5}]'
  curl -X POST localhost:8080/v1/models/digits/features -d '{"instances": [[0, 1, ...]]}'
  curl -X POST localhost:8080/v1/models/net/classify -H 'Content-Type: application/x-npy' --data-binary @x.npy
  curl -X POST 'localhost:8080/v1/models/net/features?layer=1' -d '{"instances": [[0.5, ...]]}'
  curl localhost:8080/v1/models; curl localhost:8080/metrics; curl localhost:8080/openapi.json`

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "serve models over HTTP until SIGTERM or Ctrl-C (then requests in flight finish and the database closes; a second signal ends at once): GET /v1/recommend/{user}, /v1/predict/{user}/{item}, /v1/similar/{item} from cf models; POST /v1/ratings stores ratings durably and uses them at once; POST /v1/models/{name}/features|reconstruct|score for rbm, dbn and ae models (score: an rbm's free energy, a dbn's or ae's reconstruction error), /classify and /features?layer=K for nn classifiers, instances as JSON or a .npy body; /healthz, /readyz, /metrics, /v1/models, /openapi.json.", serveExamples)
	var models modelFlags
	fs.Var(&models, "model", "NAME=FILE: a model file of any kind (cf, rbm, nn, dbn or ae) served as NAME; repeat for more (the first cf model answers the recommender endpoints unless ?model=NAME)")
	items := fs.String("items", "", "item titles for responses: u.item, movies.dat or movies.csv")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default; port 0 picks a free one)")
	db := fs.String("db", "", "ratings database (SQLite, created if missing; default harmonium.db in the working folder)")
	tokenFile := fs.String("token-file", "", "file holding a bearer token that POST /v1/ratings must present (Authorization: Bearer TOKEN)")
	maxBody := fs.Int64("max-body", serve.DefaultMaxBody, "largest request body in bytes (larger: 413)")
	maxBatch := fs.Int("max-batch", serve.DefaultMaxBatch, "most instances or ratings in one request (more: 413)")
	workers := fs.Int("workers", 0, "requests computed at once, the others queue (default: GOMAXPROCS, the cores)")
	grace := fs.Duration("grace", 30*time.Second, "how long requests in flight get to finish at shutdown")
	logFormat := fs.String("log", "text", "request log on standard error: text, json or off")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(models) == 0 {
		return usageError{errors.New("give at least one --model NAME=FILE")}
	}
	if *maxBody <= 0 || *maxBatch <= 0 || *workers < 0 {
		return usageError{errors.New("--max-body and --max-batch must be positive, --workers not negative")}
	}
	logger, err := requestLogger(e, *logFormat)
	if err != nil {
		return err
	}
	opt := serve.Options{DB: *db, MaxBody: *maxBody, MaxBatch: *maxBatch, Workers: *workers, Logger: logger}
	if opt.Token, err = readToken(*tokenFile); err != nil {
		return err
	}
	if *items != "" {
		if opt.Titles, err = cf.ReadTitles(*items); err != nil {
			return err
		}
	}
	if opt.DB == "" {
		opt.DB = "harmonium.db"
		abs, _ := filepath.Abs(opt.DB)
		fmt.Fprintf(e.stderr, "harmonium serve: no --db given: ratings are kept in %s\n", abs)
	}
	loaded, err := loadModels(e, models)
	if err != nil {
		return err
	}
	s, err := serve.New(loaded, opt)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("listen: %w", err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(e.stderr, "harmonium serve: warning: listening beyond this machine (%s); put it behind TLS and use --token-file\n", ln.Addr())
	}
	fmt.Fprintf(e.stderr, "harmonium serve: listening on http://%s\n", ln.Addr())
	if err := serve.Run(ctx, s, ln, *grace); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "harmonium serve: shut down cleanly")
	return nil
}

// loadModels loads every --model NAME=FILE.
func loadModels(e *env, specs []string) ([]*serve.Model, error) {
	var out []*serve.Model
	for _, spec := range specs {
		name, file, ok := strings.Cut(spec, "=")
		if !ok || name == "" || file == "" {
			return nil, usageError{fmt.Errorf("--model %q: want NAME=FILE", spec)}
		}
		m, err := serve.Load(name, file)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stderr, "harmonium serve: model %s: %s (%s) loaded in %s\n", name, file, m.Kind, fmtDuration(m.LoadTime))
		out = append(out, m)
	}
	return out, nil
}

// maxTokenBytes bounds the token file, so that a wrong --token-file (a
// model, /dev/zero) is refused rather than read whole.
const maxTokenBytes = 4096

// readToken reads the bearer token from path ("" for none).
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if len(data) > maxTokenBytes {
		return "", fmt.Errorf("--token-file %s: over %d bytes; want one token on one line", path, maxTokenBytes)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("--token-file %s: want one token on one line", path)
	}
	return tok, nil
}

// requestLogger returns the logger of the request lines.
func requestLogger(e *env, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, nil)), nil
	case "off":
		return slog.New(slog.DiscardHandler), nil
	}
	return nil, usageError{fmt.Errorf("--log must be text, json or off, got %q", format)}
}
