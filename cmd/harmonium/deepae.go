package main

import (
	"context"
	"encoding/json"
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
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
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
	b := newBar(e, "fine-tuning", f.quiet)
	var history []nn.EpochStats
	hooks := nn.Hooks{
		Batch: func(epoch, done, total int) {
			b.update((epoch-1)*total+done, cfg.Epochs*total, fmt.Sprintf("epoch %d/%d", epoch, cfg.Epochs))
		},
		Epoch: func(s nn.EpochStats) error {
			b.done()
			history = append(history, s)
			say("%s\n", epochLine(s, cfg.Epochs))
			return nil
		},
	}
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
	meta := map[string]string{"pretrained": f.model, "task": f.task, "epochs": strconv.Itoa(cfg.Epochs), "learning_rate": strconv.FormatFloat(f.lr, 'g', -1, 64),
		"optimizer": f.optimizer, "seed": strconv.FormatUint(f.seed, 10), "finetune_seconds": strconv.FormatFloat(elapsed.Seconds(), 'f', 2, 64),
		"train_seconds": strconv.FormatFloat(total, 'f', 2, 64), "data": set.Source}
	if s := dbnMeta["image_shape"]; s != "" {
		meta["image_shape"] = s
	}
	if err := modelfile.SaveAE(f.out, m, meta); err != nil {
		return err
	}
	say("saved %s after %s\n", f.out, fmtDuration(elapsed))
	if f.json {
		last := history[len(history)-1]
		return json.NewEncoder(e.stdout).Encode(map[string]any{"model": f.out, "epochs": len(history), "loss": last.Loss, "recon_error": m.ReconError(x), "seconds": elapsed.Seconds()})
	}
	return nil
}
