# mvwatch build. The README names the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/mvwatch
# Where setup puts the ONNX Runtime library; the binary also finds it there on its own.
export MVWATCH_ORT_LIB ?= $(CURDIR)/third_party/onnxruntime/libonnxruntime.so.1
# Tests that take minutes (soaks, long benchmarks) run only with MVWATCH_LONG=1.
TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: setup build run test bench-extract clean train-setup

setup:
	@scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/mvwatch

run: build
	./$(BIN) live

test: setup
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

bench-extract: build
	./$(BIN) bench extract

clean:
	rm -rf bin

# Python for training and export (PyTorch, onnx, onnxruntime) in training/.venv; `make test` never needs it.
VENV := training/.venv
train-setup: $(VENV)/.stamp
$(VENV)/.stamp: training/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r training/requirements.txt
	touch $@
