package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/modelfile"
)

func runDBNUpDown(ctx context.Context, e *env, args []string) error {
	def := dbn.DefaultUpDownConfig()
	fs := newFlags(e, "dbn updown", "fine-tune a DBN trained with --labels by the up-down algorithm (Hinton, Osindero & Teh 2006): the layers below the top get generative weights of their own, "+
		"trained in a wake phase to predict each level from the one above, while the recognition weights are trained in a sleep phase on fantasies from the top RBM, which itself takes CD steps with the label clamped. "+
		"Dreams (dbn sample) then come down through the generative weights; features and classification use the recognition weights. MNIST folders are read from the training split.",
		"harmonium dbn updown --model dbn.safetensors --data ../shared/data/mnist --epochs 10 --out dbn-ud.safetensors\n  harmonium dbn sample --model dbn-ud.safetensors --data ../shared/data/mnist --out dreams.png")
	var data dataFlags
	data.register(fs, "train")
	model := fs.String("model", "", "DBN trained with --labels (required)")
	labelFile := fs.String("label-file", "", "labels, one integer per sample: .csv or .npy (MNIST folders have their own)")
	epochs := fs.Int("epochs", def.Epochs, "passes over the data")
	batch := fs.Int("batch", def.BatchSize, "minibatch size")
	lr := fs.Float64("lr", def.LearningRate, "learning rate of every weight and bias")
	steps := fs.Int("top-steps", def.TopSteps, "Gibbs steps of the top RBM's negative phase")
	seed := fs.Uint64("seed", def.Seed, "random seed: minibatch order and sampling")
	out := fs.String("out", "", "where to save the fine-tuned DBN (required)")
	jsonOut := fs.Bool("json", false, "print the per-epoch statistics as one JSON object on stdout")
	quiet := fs.Bool("quiet", false, "print nothing but errors (and --json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	if err := checkOutputs(*out); err != nil {
		return err
	}
	if err := positive(map[string]int{"epochs": *epochs, "batch": *batch, "top-steps": *steps}); err != nil {
		return err
	}
	if !(*lr > 0) || math.IsInf(*lr, 1) {
		return usageError{fmt.Errorf("--lr must be positive and finite, got %g", *lr)}
	}
	d, meta, set, err := labelledDBN(ctx, e, &data, *model, *labelFile, "up-down fine-tuning")
	if err != nil {
		return err
	}
	if set.Labels == nil {
		return fmt.Errorf("%s has no labels: pass --label-file FILE with one label per sample", set.Source)
	}
	cfg := dbn.UpDownConfig{Epochs: *epochs, BatchSize: *batch, LearningRate: *lr, TopSteps: *steps, Seed: *seed}
	say := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(e.stderr, format, a...)
		}
	}
	say("up-down fine-tuning %s on %d samples: %d epochs, batch %d, lr %g, CD-%d in the top RBM\n", *model, set.X.Rows, *epochs, *batch, *lr, *steps)
	var history []dbn.UpDownStats
	start := time.Now()
	err = d.UpDown(ctx, set.X, set.Labels, cfg, func(s dbn.UpDownStats) error {
		history = append(history, s)
		say("epoch %d/%d  wake reconstruction error %.4f  %.1f s\n", s.Epoch, *epochs, s.WakeError, s.Duration.Seconds())
		return nil
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: nothing written", errInterrupted)
		}
		return err
	}
	meta["updown_epochs"], meta["updown_learning_rate"], meta["updown_top_steps"] = strconv.Itoa(*epochs), strconv.FormatFloat(*lr, 'g', -1, 64), strconv.Itoa(*steps)
	meta["updown_seconds"] = strconv.FormatFloat(time.Since(start).Seconds(), 'f', 2, 64)
	if err := modelfile.SaveDBN(*out, d, len(d.Layers), meta, nil); err != nil {
		return err
	}
	say("saved %s after %s\n", *out, fmtDuration(time.Since(start)))
	if *jsonOut {
		return writeJSON(e.stdout, e.stderr, map[string]any{"model": *out, "epochs": history, "seconds": time.Since(start).Seconds()})
	}
	return nil
}
