// Package fit is the epoch driver that harmonium's trainers share: it
// orders the samples of each epoch, cuts them into minibatches, hands each
// minibatch to the trainer, stops between minibatches when the context is
// cancelled, checks every epoch's loss for divergence (NaN or Inf), and
// reports progress. A trainer supplies what one minibatch does (Step) and
// what happens around an epoch (BeginEpoch, EndEpoch: schedules,
// statistics, checkpoints); resuming is starting from the number of epochs
// a checkpoint holds.
//
// The driver keeps the method apart from the loop, as gonum's
// optimize.Minimize keeps its driver apart from the optimisation methods.
package fit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Trainer is what the driver calls. Idx holds the indices of a
// minibatch's samples in the epoch's order; the slice is reused, so a
// trainer must copy what it keeps.
type Trainer interface {
	// BeginEpoch prepares epoch (0-based): learning rate, momentum,
	// random streams.
	BeginEpoch(epoch int) error
	// Step trains on one minibatch and returns the sum of its samples'
	// losses.
	Step(idx []int) (float64, error)
	// EndEpoch is called after the last minibatch of an epoch whose mean
	// loss is finite; an error stops the run and is returned, except
	// ErrStop, which ends it early without an error (early stopping).
	EndEpoch(e Epoch) error
}

// Divergent is implemented by trainers that describe a divergence
// themselves (for example with advice on the learning rate); the driver
// returns Diverged's error instead of its own.
type Divergent interface {
	Diverged(e Epoch) error
}

// Epoch reports one finished epoch.
type Epoch struct {
	Epoch    int           // 0-based
	Loss     float64       // mean over the samples of the losses Step returned
	Duration time.Duration // wall time of the epoch
}

// ErrDiverged is returned (wrapped, naming the epoch) when an epoch's loss
// is NaN or Inf.
var ErrDiverged = errors.New("training diverged (NaN or Inf)")

// ErrStop is returned by a trainer's EndEpoch to end training after that
// epoch (early stopping); Run then returns nil.
var ErrStop = errors.New("stop training")

// Config sets up a run.
type Config struct {
	Epochs    int    // epochs to have done at the end (> 0)
	BatchSize int    // samples per minibatch (> 0); the last one may be smaller
	Seed      uint64 // seeds the order of the samples in each epoch
	// Order, when not nil, replaces the default order: it must fill perm
	// with the order of the samples in the given epoch. The default is a
	// shuffle of 0..n-1 by a PCG stream seeded with (Seed, epoch).
	Order func(epoch int, perm []int)
	// Batch, when not nil, is called after each minibatch with the
	// epoch (1-based) and the minibatches done and in all in the epoch.
	Batch func(epoch, done, total int)
}

// Shuffle fills perm with the default order of the given epoch: a shuffle
// of 0..len(perm)-1 by a PCG stream seeded with (seed, epoch).
func Shuffle(perm []int, seed uint64, epoch int) {
	for i := range perm {
		perm[i] = i
	}
	rand.New(rand.NewPCG(seed, uint64(epoch))).Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
}

// Run trains t over n samples from epoch `from` (the number of epochs
// already done, as a checkpoint records them) until cfg.Epochs are done.
// It stops between minibatches when ctx is cancelled, returning ctx's
// error; the trainer counts the epochs it finished (in EndEpoch).
func Run(ctx context.Context, cfg Config, n, from int, t Trainer) error {
	switch {
	case n <= 0:
		return errors.New("no training samples")
	case cfg.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive, got %d", cfg.BatchSize)
	case from < 0:
		return fmt.Errorf("epochs done must not be negative, got %d", from)
	}
	bs := min(cfg.BatchSize, n)
	batches := (n + bs - 1) / bs
	perm := make([]int, n)
	for e := from; e < cfg.Epochs; e++ {
		start := time.Now()
		if cfg.Order != nil {
			cfg.Order(e, perm)
		} else {
			Shuffle(perm, cfg.Seed, e)
		}
		if err := t.BeginEpoch(e); err != nil {
			return err
		}
		sum := 0.0
		for b := 0; b < batches; b++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			loss, err := t.Step(perm[b*bs : min((b+1)*bs, n)])
			if err != nil {
				return err
			}
			sum += loss
			if cfg.Batch != nil {
				cfg.Batch(e+1, b+1, batches)
			}
		}
		ep := Epoch{Epoch: e, Loss: sum / float64(n), Duration: time.Since(start)}
		if math.IsNaN(ep.Loss) || math.IsInf(ep.Loss, 0) {
			if d, ok := t.(Divergent); ok {
				return d.Diverged(ep)
			}
			return fmt.Errorf("epoch %d: %w", e+1, ErrDiverged)
		}
		if err := t.EndEpoch(ep); errors.Is(err, ErrStop) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}
