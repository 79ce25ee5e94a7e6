# harmonium: restricted Boltzmann machines in Go.
GO ?= go
BIN := bin/harmonium
MNIST := ../shared/data/mnist

COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null)
FUZZTIME ?= 20s
CI_FUZZTIME ?= 8s

.PHONY: run test test-short fuzz bench deps build clean

# run: set up, build, train a 784-500 RBM on the built-in MNIST digits (1,000
# held out for validation), and draw what it learned.
run: build
	./$(BIN) train --validate 0.1 --out model.safetensors --report report.html --curve curve.png
	./$(BIN) reconstruct --model model.safetensors --n 64 --out reconstructions.png
	./$(BIN) filters --model model.safetensors --n 100 --out filters.png

deps:
	@bash scripts/deps.sh

build: deps
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN) ./cmd/harmonium

# test: vet, every test with the native backend, then the quick tests of
# the pure-Go build (its kernels are also checked bit for bit against the
# native ones in mat32), the quick tests under the race detector, and a
# short run of every fuzz target.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	CGO_ENABLED=0 $(GO) test -short -count=1 ./...
	$(GO) test -race -short -count=1 ./...
	FUZZTIME=$(CI_FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# test-short: the quick tests for development (-short skips the long
# estimator, likelihood and browser tests); CI runs 'make test'.
test-short:
	$(GO) vet ./...
	$(GO) test -short -count=1 ./...

# fuzz: every fuzz target for FUZZTIME (make fuzz FUZZTIME=5m for longer).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# bench: seconds per CD-1 epoch over 60,000 samples, then the Go benchmarks.
bench: build
	./$(BIN) bench $(if $(wildcard $(MNIST)),--data $(MNIST),) --epochs 5
	HARMONIUM_BLAS=go ./$(BIN) bench $(if $(wildcard $(MNIST)),--data $(MNIST),) --epochs 1
	$(GO) test -run '^$$' -bench . -benchtime 20x ./mat32 ./rbm

clean:
	rm -rf bin model.safetensors report.html curve.png reconstructions.png filters.png
