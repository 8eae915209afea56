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
	./$(BIN) serve

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

# MFCD-Net (issue 3): camera-event dataset, features from the Go extractor, RGB teacher, distilled
# early-exit student, ONNX (FP32 + INT8) into models/mfcd/, report into docs/MODELS.md. CPU only.
MFCD_DATA := training/data/mfcd
.PHONY: train-mfcd
train-mfcd: $(VENV)/.stamp
	@dpkg -s mate-backgrounds plasma-workspace-wallpapers >/dev/null 2>&1 || apt-get install -y --no-install-recommends mate-backgrounds plasma-workspace-wallpapers
	$(GO) build -buildvcs=false -trimpath -o bin/mvwatch ./cmd/mvwatch
	nice -n 10 $(VENV)/bin/python training/mfcd/dataset.py --out $(MFCD_DATA) --per-class 80,15,25,15 --jobs 2
	nice -n 10 $(VENV)/bin/python training/mfcd/features.py --data $(MFCD_DATA) --mvwatch bin/mvwatch --jobs 2
	rm -f training/out/mfcd/teacher.pt
	nice -n 10 $(VENV)/bin/python training/mfcd/train.py --data $(MFCD_DATA) --out models/mfcd --work training/out/mfcd
	$(VENV)/bin/python training/mfcd/report.py --model models/mfcd --out docs/MODELS.md
