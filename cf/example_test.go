package cf_test

import (
	"context"
	"fmt"
	"log"
	"math"

	"github.com/harmonium-ml/harmonium/cf"
)

// Train a user-based RBM on small synthetic MovieLens-like ratings, compare
// it with predicting the mean rating, and recommend items to a user.
func Example() {
	all := cf.Synthetic(cf.SynthConfig{Users: 300, Items: 500, Ratings: 20000, Seed: 1})
	train, test := all.Split(0.1, 2) // hold out 10% of the ratings
	cfg := cf.DefaultConfig()
	cfg.Hidden, cfg.Epochs, cfg.Seed = 20, 5, 42
	m, err := cf.Train(context.Background(), train, cfg, nil)
	if err != nil {
		log.Fatal(err)
	}
	met := m.Evaluate(test)

	mean, se := 0.0, 0.0
	for _, r := range train.List {
		mean += r.Value
	}
	mean /= float64(len(train.List))
	for _, r := range test.List {
		se += (r.Value - mean) * (r.Value - mean)
	}
	fmt.Println("held-out ratings:", met.N)
	fmt.Println("RMSE below the mean's:", met.RMSE < math.Sqrt(se/float64(len(test.List))))

	recs, err := m.Recommend("1", 3) // user "1": the three best items it has not rated
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recommendations:", len(recs))
	// Output:
	// held-out ratings: 2000
	// RMSE below the mean's: true
	// recommendations: 3
}
