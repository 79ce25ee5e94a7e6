// Command harmonium trains and uses restricted Boltzmann machines.
//
// Run "harmonium help" for the commands and "harmonium CMD --help" for each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, env *env, args []string) error
}

var commands = []command{
	{"train", "train an RBM on MNIST, CSV or NPY data and save it", runTrain},
	{"eval", "measure a model: reconstruction error and free energy", runEval},
	{"features", "write p(h|v) for every sample: the hidden layer as features", runFeatures},
	{"reconstruct", "draw samples beside their reconstructions (PNG)", runReconstruct},
	{"filters", "draw the hidden units' weights as image tiles (PNG)", runFilters},
	{"sample", "draw samples from Gibbs chains, or how chains evolve (PNG)", runSample},
	{"cf", "collaborative filtering on ratings: cf train, cf eval, cf recommend", runCF},
	{"nn", "neural networks trained by backpropagation: nn train (MLP or CNN classifiers)", runNN},
	{"classify", "predict classes with a neural network: accuracy and confusion matrix", runClassify},
	{"bench", "time CD-1 training epochs at 784-500 (seconds per epoch)", runBench},
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
	isTerminal     bool // stderr is a terminal: draw progress bars
}

// usageError marks errors in the command line (exit status 2).
type usageError struct{ error }

// errInterrupted is returned when the user stopped a command (exit status 130).
var errInterrupted = errors.New("interrupted")

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, isTerminal: isTerminal(os.Stderr)}
	os.Exit(run(signalContext(), e, os.Args[1:]))
}

// signalContext returns a context that ends at the first SIGINT or
// SIGTERM, on which a command stops gracefully (saving its work, finishing
// the requests in flight); a second signal then ends the process at once,
// as it does by default.
func signalContext() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx
}

// run executes a command line and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run(ctx, e, append(slices.Clone(args[1:]), "--help"))
		}
		usage(e.stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(e.stdout, version())
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var ue usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(e.stderr, "harmonium %s: %v (see 'harmonium %s --help')\n", c.name, err, c.name)
			return 2
		case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
			fmt.Fprintf(e.stderr, "harmonium %s: %v\n", c.name, err)
			return 130
		default:
			fmt.Fprintf(e.stderr, "harmonium %s: %v\n", c.name, err)
			return 1
		}
	}
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	if best := nearest(args[0], names); best != "" && !strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(e.stderr, "harmonium: unknown command %q; did you mean %q? (see 'harmonium help')\n", args[0], best)
	} else {
		fmt.Fprintf(e.stderr, "harmonium: unknown command %q (see 'harmonium help')\n", args[0])
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "harmonium: restricted Boltzmann machines.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: harmonium COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Examples:")
	fmt.Fprintln(w, "  harmonium train --out model.safetensors          # 784-500 RBM on the built-in MNIST test set")
	fmt.Fprintln(w, "  harmonium train --data mnist --epochs 20 --out m.safetensors   # downloads MNIST (cached)")
	fmt.Fprintln(w, "  harmonium eval --model m.safetensors --data mnist --json")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'harmonium COMMAND --help' for a command's flags, 'harmonium --version' for the build.")
}

// given returns the names of the flags set on the command line.
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// newFlags returns a flag set whose --help prints the summary, an example
// and the flags to stdout. Parse errors are reported by parse, in one line.
func newFlags(e *env, name, summary, example string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error; parse prints help itself
	helpers.Store(fs, func() {
		fmt.Fprintf(e.stdout, "harmonium %s: %s\n\nExample:\n  %s\n\nFlags:\n", name, summary, example)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	})
	return fs
}

// helpers maps each flag set to its help printer until it is parsed.
var helpers sync.Map

// parse parses args, printing the help for --help and turning flag errors
// into one-line usage errors that suggest the nearest flag name.
func parse(fs *flag.FlagSet, args []string) error {
	help, _ := helpers.LoadAndDelete(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if h, ok := help.(func()); ok {
				h()
			}
			return err
		}
		return usageError{flagError(fs, err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// flagError rewrites the flag package's messages: an unknown flag gets the
// nearest defined name as a suggestion.
func flagError(fs *flag.FlagSet, err error) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	if !strings.HasPrefix(msg, undefined) {
		return err
	}
	name := strings.TrimPrefix(msg, undefined)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if best := nearest(name, names); best != "" {
		return fmt.Errorf("unknown flag --%s; did you mean --%s?", name, best)
	}
	return fmt.Errorf("unknown flag --%s", name)
}

// nearest returns the candidate closest to s in edit distance, or "" when
// none is close enough to be a likely typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(s, c)
		if strings.HasPrefix(c, s) || strings.HasPrefix(s, c) {
			d = min(d, 1)
		}
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance, counting a swap of two
// neighbouring letters as one edit.
func editDistance(a, b string) int {
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// positive checks that integer flags are > 0.
func positive(flags map[string]int) error {
	for name, v := range flags {
		if v <= 0 {
			return usageError{fmt.Errorf("--%s must be positive, got %d", name, v)}
		}
	}
	return nil
}

// commit is the commit the binary was built from when the build does not
// record it (go build -buildvcs=false); the Makefile sets it with -ldflags.
var commit string

// version describes the build: the module version, the commit it was built
// from (with "+dirty" for uncommitted changes) and the Go release.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "harmonium (unknown build)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev, dirty, when := commit, "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		case "vcs.time":
			when = " " + s.Value
		}
	}
	desc := "unknown commit"
	if rev != "" {
		desc = "commit " + rev[:min(12, len(rev))] + dirty + when
	}
	return fmt.Sprintf("harmonium %s, %s, %s %s/%s", v, desc, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
