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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, isTerminal: isTerminal(os.Stderr)}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// run executes a command line and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run(ctx, e, []string{args[1], "--help"})
		}
		usage(e.stdout)
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
	fmt.Fprintf(e.stderr, "harmonium: unknown command %q (see 'harmonium help')\n", args[0])
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
	fmt.Fprintln(w, "Run 'harmonium COMMAND --help' for a command's flags.")
}

// newFlags returns a flag set whose --help prints the summary, an example
// and the flags to stdout.
func newFlags(e *env, name, summary, example string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "harmonium %s: %s\n\nExample:\n  %s\n\nFlags:\n", name, summary, example)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
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
