package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/harmonium-ml/harmonium/ae"
	"github.com/harmonium-ml/harmonium/dbn"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/nn"
)

// autoencodeRecipe sets the settings of finetune --task autoencode that
// the user left unset: Adam at 0.001, no decay, no dropout, 50 epochs.
func (f *finetuneFlags) autoencodeRecipe(fs *flag.FlagSet) {
	set := given(fs)
	if !set["optimizer"] {
		f.optimizer = "adam"
	}
	if !set["lr"] {
		f.lr = 1e-3
	}
	if !set["lr-decay"] {
		f.lrDecay = 1
	}
	if !set["dropout"] {
		f.dropout = 0
	}
	if !set["momentum"] && f.optimizer != "sgd" {
		f.momentum = 0
	}
	if !set["out"] {
		f.out = "ae.safetensors"
	}
}

// autoencode unrolls the DBN into a deep autoencoder, fine-tunes it on
// reconstruction and saves it.
func (f *finetuneFlags) autoencode(ctx context.Context, e *env, d *dbn.DBN, cfg nn.Config, dbnMeta map[string]string) error {
	net, code, err := d.Autoencoder()
	if err != nil {
		return fmt.Errorf("%s: %w", f.model, err)
	}
	m := &ae.Model{Kind: ae.Deep, Net: net, Code: code, Output: ae.Bernoulli}
	set, err := f.data.loadAny(ctx, e)
	if err != nil {
		return err
	}
	if set.X.Cols != d.Visible() {
		return fmt.Errorf("%s has %d visible units but %s has %d values per sample", f.model, d.Visible(), set.Source, set.X.Cols)
	}
	if err := m.CheckData(set.X); err != nil {
		return fmt.Errorf("%s: %w", set.Source, err)
	}
	x, val := set.X, nn.Data{}
	if f.validate > 0 {
		tr, v := nn.Data{X: set.X}.Split(f.validate, f.seed)
		x, val = tr.X, v
	}
	t, err := m.NewTrainer(cfg)
	if err != nil {
		return usageError{err}
	}
	say := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(e.stderr, format, a...)
		}
	}
	say("fine-tuning %s as a %s on %d samples: %d epochs, %s lr %g\n", f.model, m, x.Rows, cfg.Epochs, f.optimizer, f.lr)
	var history []nn.EpochStats
	b, hooks := f.hooks(e, cfg.Epochs, &history, func(s nn.EpochStats) string { return epochLine(s, cfg.Epochs) })
	start := time.Now()
	_, err = m.Fit(ctx, t, x, val.X, hooks)
	b.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w: nothing written", errInterrupted)
		}
		return err
	}
	elapsed := time.Since(start)
	total := elapsed.Seconds()
	if s, err := strconv.ParseFloat(dbnMeta["train_seconds"], 64); err == nil {
		total += s // pretraining and fine-tuning
	}
	meta := f.meta(cfg.Epochs, elapsed, dbnMeta)
	meta["finetune_seconds"], meta["train_seconds"], meta["data"] = strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64), strconv.FormatFloat(total, 'f', 2, 64), set.Source
	if err := modelfile.SaveAE(f.out, m, meta); err != nil {
		return err
	}
	say("saved %s after %s\n", f.out, fmtDuration(elapsed))
	if f.json {
		last := history[len(history)-1]
		return writeJSON(e.stdout, e.stderr, map[string]any{"model": f.out, "epochs": len(history), "loss": last.Loss, "recon_error": m.ReconError(x), "seconds": elapsed.Seconds()})
	}
	return nil
}

// hooks returns the progress bar and the training hooks of finetune: the
// bar over all epochs, and after each epoch its statistics appended to
// history and line(s) printed unless --quiet.
func (f *finetuneFlags) hooks(e *env, epochs int, history *[]nn.EpochStats, line func(nn.EpochStats) string) (*bar, nn.Hooks) {
	b := newBar(e, "fine-tuning", f.quiet)
	return b, nn.Hooks{
		Batch: func(epoch, done, total int) {
			b.update((epoch-1)*total+done, epochs*total, fmt.Sprintf("epoch %d/%d", epoch, epochs))
		},
		Epoch: func(s nn.EpochStats) error {
			b.done()
			*history = append(*history, s)
			if !f.quiet {
				fmt.Fprintln(e.stderr, line(s))
			}
			return nil
		},
	}
}

// meta is the metadata finetune saves with either task's result.
func (f *finetuneFlags) meta(epochs int, elapsed time.Duration, dbnMeta map[string]string) map[string]string {
	meta := map[string]string{"pretrained": f.model, "task": f.task, "epochs": strconv.Itoa(epochs), "learning_rate": strconv.FormatFloat(f.lr, 'g', -1, 64),
		"optimizer": f.optimizer, "seed": strconv.FormatUint(f.seed, 10)}
	if s := dbnMeta["image_shape"]; s != "" {
		meta["image_shape"] = s
	}
	return meta
}
