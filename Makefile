# harmonium: restricted Boltzmann machines in Go.
GO ?= go
BIN := bin/harmonium
MNIST := ../shared/data/mnist

.PHONY: run test bench deps build clean

# run: set up, build, train a 784-500 RBM on the built-in MNIST digits (1,000
# held out for validation), and draw what it learned.
run: build
	./$(BIN) train --validate 0.1 --out model.safetensors --report report.html --curve curve.png
	./$(BIN) reconstruct --model model.safetensors --n 64 --out reconstructions.png
	./$(BIN) filters --model model.safetensors --n 100 --out filters.png

deps:
	@bash scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/harmonium

# test: vet, then every test with the native backend, then the pure-Go build.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./mat32 ./rbm ./modelfile

# bench: seconds per CD-1 epoch over 60,000 samples, then the Go benchmarks.
bench: build
	./$(BIN) bench $(if $(wildcard $(MNIST)),--data $(MNIST),) --epochs 5
	HARMONIUM_BLAS=go ./$(BIN) bench $(if $(wildcard $(MNIST)),--data $(MNIST),) --epochs 1
	$(GO) test -run '^$$' -bench . -benchtime 20x ./mat32 ./rbm

clean:
	rm -rf bin model.safetensors report.html curve.png reconstructions.png filters.png
