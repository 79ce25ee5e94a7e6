package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/modelfile"
	"github.com/harmonium-ml/harmonium/serve/ratingstore"
)

// readRatings reads a ratings file, or every rating stored in a ratings
// database (db:FILE, or a name ending in .db or .sqlite) such as harmonium
// serve keeps.
func readRatings(path string) (*cf.Ratings, error) {
	if db, ok := ratingstore.IsDatabase(path); ok {
		return ratingstore.Read(db)
	}
	return cf.ReadRatings(path)
}

func runCF(ctx context.Context, e *env, args []string) error {
	subs := map[string]func(context.Context, *env, []string) error{"train": runCFTrain, "eval": runCFEval, "recommend": runCFRecommend}
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(e.stdout, "harmonium cf: collaborative filtering with RBMs (Salakhutdinov, Mnih & Hinton 2007).")
		fmt.Fprintln(e.stdout, "\nCommands:\n  train      train on ratings, printing train and test RMSE each epoch\n  eval       RMSE and MAE of a model on held-out ratings\n  recommend  the top items a user has not rated")
		fmt.Fprintln(e.stdout, "\nExample:\n  harmonium cf train --ratings ml-100k/u1.base --test ml-100k/u1.test --out ml.safetensors\n  harmonium cf recommend --model ml.safetensors --user 42 --items ml-100k/u.item")
		return nil
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown cf command %q (want train, eval or recommend)", args[0])}
	}
	return sub(ctx, e, args[1:])
}

// parseSchedule reads a CD-T schedule such as "1,3,5,9".
func parseSchedule(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		t, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || t <= 0 {
			return nil, usageError{fmt.Errorf("--cd must list positive step counts like 1,3,5,9, got %q", s)}
		}
		out = append(out, t)
	}
	return out, nil
}

func runCFTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cf train", "train a collaborative-filtering RBM on ratings (one case per item by default, or per user with --user-based), printing train and test RMSE each epoch.",
		"harmonium cf train --ratings ml-100k/u1.base --test ml-100k/u1.test --out ml.safetensors")
	def := cf.DefaultConfig()
	var f cfTrainFlags
	f.register(fs, def)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := f.config(def)
	if err != nil {
		return err
	}
	if err := checkOutputs(f.out); err != nil {
		return err
	}
	train, test, err := f.load(&cfg)
	if err != nil {
		return err
	}
	say := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(e.stderr, format, a...)
		}
	}
	f.describe(say, cfg, train)
	b := newBar(e, "training", f.quiet)
	start := time.Now()
	fit, err := fitCF(ctx, b, say, cfg, train, test)
	if err != nil {
		return err
	}
	return f.finish(e, say, fit, f.meta(train, cfg.Implied, start), test != nil, start)
}

// cfTrainFlags are the settings of cf train.
type cfTrainFlags struct {
	ratings, testPath, saveSplit, cd, implied, out         string
	split, lr, momentum, wd, like, blend, implicitLR       float64
	hidden, epochs, batch, implicitHidden, implicitEpochs  int
	itemBased, userBased, binary, conditional, impliedTest bool
	quiet, jsonOut                                         bool
	seed                                                   uint64
}

// register defines the flags of cf train on fs, with the defaults of def.
func (f *cfTrainFlags) register(fs *flag.FlagSet, def cf.Config) {
	fs.StringVar(&f.ratings, "ratings", "", "training ratings: MovieLens u.data/uN.base, ratings.dat, ratings.csv, any CSV of user,item,rating, or a ratings database of harmonium serve (db:FILE, or FILE.db): everything stored there (required)")
	fs.StringVar(&f.testPath, "test", "", "held-out ratings to report RMSE on")
	fs.Float64Var(&f.split, "split", 0, "hold out this fraction of --ratings (chosen by --seed) instead of --test")
	fs.StringVar(&f.saveSplit, "save-split", "", "with --split: write the two parts to DIR/train.tsv and DIR/test.tsv (user, item, rating; tab separated), so other tools can use the same split")
	fs.IntVar(&f.hidden, "hidden", def.Hidden, "hidden units")
	fs.IntVar(&f.epochs, "epochs", def.Epochs, "passes over the users (or items)")
	fs.IntVar(&f.batch, "batch", def.BatchSize, "cases per minibatch")
	fs.Float64Var(&f.lr, "lr", def.LearningRate, "learning rate")
	fs.Float64Var(&f.momentum, "momentum", def.Momentum, "momentum")
	fs.Float64Var(&f.wd, "weight-decay", def.WeightDecay, "L2 weight decay")
	fs.StringVar(&f.cd, "cd", "1,3,5,9", "CD-T schedule: T for equal parts of the epochs")
	fs.BoolVar(&f.itemBased, "item-based", def.ItemBased, "item-based RBM (the default): each item is a case and its users are the visible units; predicts better than user-based on MovieLens")
	fs.BoolVar(&f.userBased, "user-based", false, "user-based RBM: each user is a case and the items they rated are the visible units (needed to fold in new users with cf recommend --ratings-of-user)")
	fs.BoolVar(&f.binary, "binary", false, "like/dislike RBM: a rating of at least --like is a like, lower a dislike; unrated items are ignored; predictions are P(like)")
	fs.Float64Var(&f.like, "like", 3, "with --binary: the lowest rating that counts as a like")
	fs.Float64Var(&f.blend, "baseline-blend", -1, "weight in [0, 1) of the bias baseline (mean + user and item offsets) in the predicted ratings, the rest being the RBM's expected rating (default: 0.5 for --user-based, which then beats the baseline on every MovieLens 100K fold; 0, the RBM alone, for item-based)")
	fs.BoolVar(&f.conditional, "conditional", def.Conditional, "conditional RBM (the paper's section 4; the default, --conditional=false for the plain one): the binary vector r of which items a user rated in training (which users rated an item, item-based) adds D'r to the hidden units' inputs, D learned by the same CD gradient")
	fs.StringVar(&f.implied, "implied", "", "with --conditional: a ratings file of (user, item) pairs known to be rated whose ratings are NOT used; they join the indicator vector r, as the paper does with Netflix's qualifying set")
	fs.BoolVar(&f.impliedTest, "implied-test", false, "with --conditional: use the pairs of --test (never its ratings) as --implied does, the paper's protocol; the model then knows which held-out items each user rated, so its top-N figures are not a fair comparison")
	fs.IntVar(&f.implicitHidden, "implicit-hidden", def.Implicit.Hidden, "hidden units of the implicit-feedback RBM over which items each user rated, fitted beside the rating model for ranking (0: none; recommendations then rank by predicted rating)")
	fs.IntVar(&f.implicitEpochs, "implicit-epochs", def.Implicit.Epochs, "epochs of the implicit-feedback RBM")
	fs.Float64Var(&f.implicitLR, "implicit-lr", def.Implicit.LearningRate, "learning rate of the implicit-feedback RBM")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.StringVar(&f.out, "out", "cf.safetensors", "where to save the model")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors (and --json)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object")
}

// check reports the first invalid combination of flags.
func (f *cfTrainFlags) check() error {
	if f.ratings == "" {
		return usageError{errors.New("--ratings is required")}
	}
	if f.testPath != "" && f.split > 0 {
		return usageError{errors.New("give --test or --split, not both")}
	}
	if !(f.split >= 0 && f.split < 1) {
		return usageError{fmt.Errorf("--split must be a fraction in [0, 1), got %g", f.split)}
	}
	if f.saveSplit != "" && f.split == 0 {
		return usageError{errors.New("--save-split needs --split FRACTION")}
	}
	if (f.implied != "" || f.impliedTest) && !f.conditional {
		return usageError{errors.New("--implied and --implied-test need the conditional RBM (not --conditional=false)")}
	}
	if f.implied != "" && f.impliedTest {
		return usageError{errors.New("give --implied or --implied-test, not both")}
	}
	if f.impliedTest && f.testPath == "" {
		return usageError{errors.New("--implied-test needs --test")}
	}
	return nil
}

// config checks the settings and returns the training configuration (its
// Implied ratings still unread). It settles --user-based and the default
// --baseline-blend in f.
func (f *cfTrainFlags) config(def cf.Config) (cf.Config, error) {
	if err := f.check(); err != nil {
		return cf.Config{}, err
	}
	if f.userBased {
		f.itemBased = false
	}
	steps, err := parseSchedule(f.cd)
	if err != nil {
		return cf.Config{}, err
	}
	if f.blend < 0 {
		f.blend = 0
		if !f.itemBased {
			f.blend = cf.UserBasedBlend
		}
	}
	ic := def.Implicit
	ic.Hidden, ic.Epochs, ic.LearningRate = f.implicitHidden, f.implicitEpochs, f.implicitLR
	cfg := cf.Config{Hidden: f.hidden, Epochs: f.epochs, BatchSize: f.batch, LearningRate: f.lr, Momentum: f.momentum, WeightDecay: f.wd, Steps: steps, Seed: f.seed, ItemBased: f.itemBased, Binary: f.binary, LikeThreshold: f.like,
		BaselineBlend: f.blend, Conditional: f.conditional, Implicit: ic}
	if err := cfg.Validate(); err != nil {
		return cf.Config{}, usageError{err}
	}
	return cfg, nil
}

// load reads the training ratings and the held-out ones (--test, or the
// --split of --ratings, written out with --save-split), and sets
// cfg.Implied from --implied or --implied-test.
func (f *cfTrainFlags) load(cfg *cf.Config) (train, test *cf.Ratings, err error) {
	if train, err = readRatings(f.ratings); err != nil {
		return nil, nil, err
	}
	if f.testPath != "" {
		if test, err = readRatings(f.testPath); err != nil {
			return nil, nil, err
		}
	} else if f.split > 0 {
		train, test = train.Split(f.split, f.seed)
		if f.saveSplit != "" {
			if err := os.MkdirAll(f.saveSplit, 0o755); err != nil {
				return nil, nil, fmt.Errorf("--save-split: %w", err)
			}
			for name, part := range map[string]*cf.Ratings{"train.tsv": train, "test.tsv": test} {
				if err := part.Write(filepath.Join(f.saveSplit, name)); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	switch {
	case f.impliedTest:
		cfg.Implied = test
	case f.implied != "":
		if cfg.Implied, err = readRatings(f.implied); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// describe says what the model is trained on and how.
func (f *cfTrainFlags) describe(say func(string, ...any), cfg cf.Config, train *cf.Ratings) {
	say("ratings: %s, %d ratings, levels %v", train.Source, len(train.List), train.Levels())
	if train.Duplicates > 0 {
		say(" (%d duplicate user-item pairs: the last rating wins)", train.Duplicates)
	}
	say("\nmodel: %s, %d hidden units, CD-T schedule %v, lr %g, momentum %g, weight decay %g", f.kind(cfg.Implied), f.hidden, cfg.Steps, f.lr, f.momentum, f.wd)
	if f.blend > 0 {
		say(", predictions %g x baseline + %g x RBM", f.blend, 1-f.blend)
	}
	say("\n")
}

// kind names the kind of RBM the flags choose, for the log.
func (f *cfTrainFlags) kind(implied *cf.Ratings) string {
	kind := "user-based"
	if f.itemBased {
		kind = "item-based"
	}
	if f.binary {
		kind += fmt.Sprintf(" like/dislike (like: rating >= %g)", f.like)
	}
	kind += " RBM"
	if f.conditional {
		kind += " (conditional on which items were rated"
		if implied != nil {
			kind += fmt.Sprintf(", with the %d pairs of %s, ratings unused", len(implied.List), implied.Source)
		}
		kind += ")"
	}
	return kind
}

// cfEpoch is one epoch's figures in the --json output of cf train.
type cfEpoch struct {
	Epoch     int     `json:"epoch"`
	TrainRMSE float64 `json:"train_rmse"`
	TestRMSE  float64 `json:"test_rmse,omitempty"`
	Seconds   float64 `json:"seconds"`
}

// cfFit is what training gave: the model, each epoch's figures and the
// final epoch's metrics on the held-out ratings.
type cfFit struct {
	model   *cf.Model
	history []cfEpoch
	last    cf.Metrics // of the final epoch's model on the test ratings
}

// fitCF trains a model on train, saying each epoch's RMSE on train and,
// when given, on test.
func fitCF(ctx context.Context, b *bar, say func(string, ...any), cfg cf.Config, train, test *cf.Ratings) (cfFit, error) {
	var fit cfFit
	model, err := cf.Train(ctx, train, cfg, func(m *cf.Model, s cf.EpochStats) error {
		b.done()
		r := cfEpoch{Epoch: s.Epoch, TrainRMSE: s.TrainRMSE, Seconds: s.Duration.Seconds()}
		line := fmt.Sprintf("epoch %*d/%d  CD-%d  train RMSE %.4f", len(strconv.Itoa(cfg.Epochs)), s.Epoch, cfg.Epochs, s.Steps, s.TrainRMSE)
		if test != nil {
			fit.last = m.Evaluate(test)
			r.TestRMSE = fit.last.RMSE
			line += fmt.Sprintf("  test RMSE %.4f", r.TestRMSE)
		}
		say("%s  %5.2f s\n", line, s.Duration.Seconds())
		fit.history = append(fit.history, r)
		b.update(s.Epoch, cfg.Epochs, "")
		return nil
	})
	b.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return cfFit{}, fmt.Errorf("%w: nothing written", errInterrupted)
		}
		return cfFit{}, err
	}
	fit.model = model
	return fit, nil
}

// meta returns the metadata saved with the model.
func (f *cfTrainFlags) meta(train, implied *cf.Ratings, start time.Time) map[string]string {
	meta := map[string]string{"ratings": train.Source, "hidden": strconv.Itoa(f.hidden), "epochs": strconv.Itoa(f.epochs),
		"learning_rate": strconv.FormatFloat(f.lr, 'g', -1, 64), "momentum": strconv.FormatFloat(f.momentum, 'g', -1, 64),
		"weight_decay": strconv.FormatFloat(f.wd, 'g', -1, 64), "cd_schedule": f.cd, "seed": strconv.FormatUint(f.seed, 10),
		"train_seconds": strconv.FormatFloat(time.Since(start).Seconds(), 'f', 2, 64),
		"conditional":   strconv.FormatBool(f.conditional), "implicit_hidden": strconv.Itoa(f.implicitHidden),
		"implicit_epochs": strconv.Itoa(f.implicitEpochs), "implicit_learning_rate": strconv.FormatFloat(f.implicitLR, 'g', -1, 64)}
	if implied != nil {
		meta["implied"] = implied.Source
	}
	return meta
}

// finish saves the model with meta and reports the held-out figures (when
// tested), as text and, with --json, as one JSON object on stdout.
func (f *cfTrainFlags) finish(e *env, say func(string, ...any), fit cfFit, meta map[string]string, tested bool, start time.Time) error {
	model := fit.model
	if model.ImplicitNote != "" {
		say("%s\n", model.ImplicitNote)
	} else if model.Implicit != nil {
		say("implicit-feedback RBM: %d hidden units, %d epochs (ranks recommendations)\n", f.implicitHidden, f.implicitEpochs)
	}
	if err := modelfile.SaveCF(f.out, model, meta); err != nil {
		return err
	}
	res := map[string]any{"model": f.out, "epochs": fit.history, "seconds": time.Since(start).Seconds(), "implicit": model.Implicit != nil}
	if tested {
		met := fit.last
		res["test_rmse"], res["test_mae"], res["test_n"], res["fallback"] = met.RMSE, met.MAE, met.N, met.Fallback
		say("test: RMSE %.4f, MAE %.4f over %d ratings (%d by the baseline: unknown user or item)\n", met.RMSE, met.MAE, met.N, met.Fallback)
	}
	say("saved %s after %s\n", f.out, fmtDuration(time.Since(start)))
	if f.jsonOut {
		return writeJSON(e.stdout, e.stderr, res)
	}
	return nil
}

func runCFEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cf eval", "RMSE and MAE of a model's predictions of held-out ratings; unknown users or items are predicted by the baseline (mean + user and item offsets) and counted. A held-out rating at a level never seen in training is compared as a number with the prediction, which lies on the training scale.",
		"harmonium cf eval --model ml.safetensors --ratings ml-100k/u1.test --json")
	model := fs.String("model", "", "model file (required)")
	ratings := fs.String("ratings", "", "ratings to predict (required)")
	topn := fs.Int("topn", 0, "also rank, for each test user the model knows with at least one relevant held-out rating, the items the user has not rated in training, and report precision, recall and NDCG at this cut-off (NDCG's ideal: min(N, relevant items) hits at the top), for the model's ranking and for the most-popular ranking (items by number of training ratings, ties by id) on the same users and candidates, and the ratio of their NDCGs")
	relevant := fs.Float64("relevant", 0, "with --topn: held-out ratings at least this high are relevant (default: 80% of the top level, 4 of 5)")
	rank := fs.String("rank", "default", "with --topn: the model's ranking: relevant (p(user rates the item) from the implicit-feedback RBM x P(rating >= --relevant) from the rating model; the default when the model has the implicit part), chosen (p(rated) alone) or rating (predicted rating; the default for models without the implicit part)")
	jsonOut := fs.Bool("json", false, `print {"rmse": ..., "mae": ..., "n": ..., "fallback": ...}`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" || *ratings == "" {
		return usageError{errors.New("--model and --ratings are required")}
	}
	if *topn < 0 {
		return usageError{fmt.Errorf("--topn must not be negative (0: no top-N figures), got %d", *topn)}
	}
	if math.IsNaN(*relevant) || math.IsInf(*relevant, 0) {
		return usageError{fmt.Errorf("--relevant must be a rating, got %g", *relevant)}
	}
	by, err := cf.ParseRanking(*rank)
	if err != nil {
		return usageError{fmt.Errorf("--rank: %w", err)}
	}
	m, _, err := modelfile.LoadCF(*model)
	if err != nil {
		return err
	}
	test, err := readRatings(*ratings)
	if err != nil {
		return err
	}
	met := m.Evaluate(test)
	res := map[string]any{"rmse": met.RMSE, "mae": met.MAE, "n": met.N, "fallback": met.Fallback}
	text := fmt.Sprintf("RMSE %.4f, MAE %.4f over %d ratings (%d predicted by the baseline: unknown user or item)", met.RMSE, met.MAE, met.N, met.Fallback)
	if *topn > 0 {
		rel := *relevant
		if rel == 0 {
			rel = 0.8 * m.Levels[len(m.Levels)-1]
		}
		t, err := m.EvaluateTopNBy(test, *topn, rel, by)
		if err != nil {
			return fmt.Errorf("%s: %w", *model, err)
		}
		p := m.EvaluatePopularTopN(test, *topn, rel)
		used := m.Ranking(by)
		res["topn"], res["relevant"], res["topn_users"], res["ranking"] = *topn, rel, t.Users, used.String()
		res["precision"], res["recall"], res["ndcg"] = t.Precision, t.Recall, t.NDCG
		res["popular_precision"], res["popular_recall"], res["popular_ndcg"] = p.Precision, p.Recall, p.NDCG
		ratio := "n/a (most popular NDCG is 0)"
		if p.NDCG > 0 {
			res["ndcg_ratio"] = t.NDCG / p.NDCG
			ratio = fmt.Sprintf("%.3f", t.NDCG/p.NDCG)
		}
		text += fmt.Sprintf("\ntop-%d over %d users (held-out ratings >= %g are relevant; candidates: items the user has not rated in training)", *topn, t.Users, rel)
		if n := m.ImpliedPairs(); n > 0 {
			res["implied_pairs"] = n
			text += fmt.Sprintf("\n  warning: the model was trained knowing %d (user, item) pairs whose ratings it was not given (--implied); if they are these held-out ones, its ranking is not a fair comparison", n)
		}
		text += fmt.Sprintf("\n  %-18s precision@%d %.4f, recall@%d %.4f, NDCG@%d %.4f", "model ("+used.String()+")", *topn, t.Precision, *topn, t.Recall, *topn, t.NDCG)
		text += fmt.Sprintf("\n  %-18s precision@%d %.4f, recall@%d %.4f, NDCG@%d %.4f", "most popular", *topn, p.Precision, *topn, p.Recall, *topn, p.NDCG)
		text += "\n  NDCG model / most popular: " + ratio
	}
	if *jsonOut {
		return writeJSON(e.stdout, e.stderr, res)
	}
	fmt.Fprintln(e.stdout, text)
	return nil
}

func runCFRecommend(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cf recommend", "the items a user has not rated that the model predicts they will rate highest. A user the model has never seen gets the most popular items (by number of training ratings), flagged as such; a new user given by --ratings-of-user is folded in (user-based models only): their hidden units are inferred from those ratings, without retraining.",
		"harmonium cf recommend --model ml.safetensors --user 42 --top 10 --items ml-100k/u.item\n  harmonium cf recommend --model ml-user.safetensors --ratings-of-user me.json   # a --user-based model; me.json: [{\"item\":\"50\",\"rating\":5}, ...]")
	model := fs.String("model", "", "model file (required)")
	user := fs.String("user", "", "user id, as in the ratings file (this or --ratings-of-user is required)")
	ratingsOf := fs.String("ratings-of-user", "", `a new user's ratings, FILE holding a JSON array [{"item":"50","rating":5}, ...] ("-": standard input), to fold in: a user-based model recommends from them without retraining; items the model does not know are ignored, ratings are taken to the nearest level`)
	top := fs.Int("top", 10, "how many items")
	items := fs.String("items", "", "item titles: u.item, movies.dat or movies.csv")
	rank := fs.String("rank", "default", "how to rank: relevant (the probability that the user rates the item at least 80% of the top level: p(rated) from the implicit-feedback RBM x P(rating >= that) from the rating model; the default when the model has the implicit part), chosen (p(rated) alone) or rating (predicted rating; the default for models without it)")
	jsonOut := fs.Bool("json", false, `print a JSON array of {item, title, predicted, score} (score: what the items are ranked by; "popular": true on each when the user is unknown and these are the most popular items, scored by their number of training ratings)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *model == "":
		return usageError{errors.New("--model is required")}
	case *user != "" && *ratingsOf != "":
		return usageError{errors.New("give --user or --ratings-of-user, not both")}
	case *user == "" && *ratingsOf == "":
		return usageError{errors.New("--user or --ratings-of-user is required")}
	}
	if *top <= 0 {
		return usageError{fmt.Errorf("--top must be positive, got %d", *top)}
	}
	by, err := cf.ParseRanking(*rank)
	if err != nil {
		return usageError{fmt.Errorf("--rank: %w", err)}
	}
	var given map[string]float64
	if *ratingsOf != "" {
		if given, err = readUserRatings(*ratingsOf); err != nil {
			return err
		}
	}
	m, _, err := modelfile.LoadCF(*model)
	if err != nil {
		return err
	}
	var titles map[string]string
	if *items != "" {
		if titles, err = cf.ReadTitles(*items); err != nil {
			return err
		}
	}
	if given != nil {
		recs, unknown, err := m.RecommendForBy(given, *top, by, 0)
		if err != nil {
			return fmt.Errorf("--ratings-of-user %s: %w", *ratingsOf, err)
		}
		if unknown > 0 {
			fmt.Fprintf(e.stderr, "%d of the %d rated items are unknown to the model and were ignored\n", unknown, len(given))
		}
		return printRecommendations(e.stdout, recs, titles, *jsonOut, false, m.Ranking(by))
	}
	recs, err := m.RecommendBy(*user, *top, by, 0)
	if errors.Is(err, cf.ErrUnknownUser) {
		if recs, err = m.Popular(*top); err != nil {
			return fmt.Errorf("%s: %w", *model, err)
		}
		if !*jsonOut {
			fmt.Fprintf(e.stdout, "(unknown user: most popular items)\n")
		}
		return printRecommendations(e.stdout, recs, titles, *jsonOut, true, cf.RankRating)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *model, err)
	}
	return printRecommendations(e.stdout, recs, titles, *jsonOut, false, m.Ranking(by))
}

// readUserRatings reads a JSON array of {"item": ID, "rating": VALUE}
// (ID a string or a number) from path, or standard input for "-". A later
// rating of the same item replaces an earlier one.
func readUserRatings(path string) (map[string]float64, error) {
	name, r := path, io.Reader(os.Stdin)
	if path == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--ratings-of-user: %w", err)
		}
		defer f.Close()
		r = f
	}
	// One more byte than the limit tells an over-long input apart.
	data, err := io.ReadAll(io.LimitReader(r, cf.MaxUserRatingsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--ratings-of-user %s: %w", name, err)
	}
	given, err := cf.ParseUserRatings(data)
	if err != nil {
		return nil, fmt.Errorf("--ratings-of-user %s: %w", name, err)
	}
	return given, nil
}

// printRecommendations prints recs as a numbered list (predicted rating,
// and the score when the ranking is not by rating) or JSON.
func printRecommendations(w io.Writer, recs []cf.Recommendation, titles map[string]string, asJSON, popular bool, by cf.Ranking) error {
	type row struct {
		Item      string  `json:"item"`
		Title     string  `json:"title,omitempty"`
		Predicted float64 `json:"predicted"`
		Score     float64 `json:"score"`
		Popular   bool    `json:"popular,omitempty"`
	}
	rows := make([]row, len(recs))
	for i, r := range recs {
		rows[i] = row{r.Item, titles[r.Item], r.Predicted, r.Score, popular}
	}
	if asJSON {
		return writeJSON(w, nil, rows)
	}
	for i, r := range rows {
		name := r.Item
		if r.Title != "" {
			name = r.Title + " (" + r.Item + ")"
		}
		if by == cf.RankRating || popular {
			fmt.Fprintf(w, "%2d. %.2f  %s\n", i+1, r.Predicted, name)
		} else {
			fmt.Fprintf(w, "%2d. %.2f  (%s %.3f)  %s\n", i+1, r.Predicted, by, r.Score, name)
		}
	}
	return nil
}
