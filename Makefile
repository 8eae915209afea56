# mvwatch build. The README names the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/mvwatch
# Where setup puts the ONNX Runtime library; the binary also finds it there on its own.
export MVWATCH_ORT_LIB ?= $(CURDIR)/third_party/onnxruntime/libonnxruntime.so.1
# Tests that take minutes (soaks, long benchmarks) run only with MVWATCH_LONG=1.
TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: setup build run test bench-extract soak clean train-setup test-training lint

setup:
	@scripts/setup.sh

# The version and revision `mvwatch version` and mvwatch_build_info report (internal/buildinfo).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/mvwatch/mvwatch/internal/buildinfo.version=$(VERSION) -X github.com/mvwatch/mvwatch/internal/buildinfo.revision=$(REVISION)

build: setup
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mvwatch

run: build
	./$(BIN) serve

# `make test` runs `make lint` too; RUN_LINT=0 skips it (not LINT: make has a built-in variable of that name).
RUN_LINT ?= 1
test: setup
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
ifeq ($(RUN_LINT),1)
	$(MAKE) lint
endif
	$(GO) test $(TEST_FLAGS) ./...
	@if [ -x $(VENV)/bin/python ]; then $(MAKE) test-training; else echo "training/.venv absent: skipping the Python smoke tests (make test-training runs them)"; fi

# golangci-lint v2, pinned, built on first use into bin/tools/<version>/ (a version bump builds afresh);
# the configuration is .golangci.yml.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := bin/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...
$(GOLANGCI_LINT):
	GOBIN=$(CURDIR)/$(@D) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

bench-extract: build
	./$(BIN) bench extract

# The soak (issue 17): the whole service for SOAK_MINUTES with flapping and hostile cameras, RSS and
# goroutines sampled; fails on growth. Not part of make test.
SOAK_MINUTES ?= 30
soak: build
	./$(BIN) bench soak -duration $(SOAK_MINUTES)m

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

# Python smoke tests of training/ (pytest, CPU, well under a minute); `make test` runs them when the venv exists.
test-training: $(VENV)/.stamp
	cd $(CURDIR) && nice $(VENV)/bin/python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning training/tests

# MFCD-Net (issues 3, 13): camera-event dataset, features from the Go extractor, real training footage
# labelled by a raw-domain teacher (fetched by scripts/fetch-trainfootage.sh), RGB teacher, distilled
# early-exit student, ONNX (FP32 + INT8) into models/mfcd/, report into docs/MODELS.md. CPU only.
MFCD_DATA := training/data/mfcd
.PHONY: train-mfcd
train-mfcd: $(VENV)/.stamp
	@dpkg -s mate-backgrounds plasma-workspace-wallpapers >/dev/null 2>&1 || apt-get install -y --no-install-recommends mate-backgrounds plasma-workspace-wallpapers
	$(GO) build -buildvcs=false -trimpath -o bin/mvwatch ./cmd/mvwatch
	nice -n 10 $(VENV)/bin/python -m training.mfcd dataset --out $(MFCD_DATA) --per-class 80,15,25,15 --jobs 2
	nice -n 10 $(VENV)/bin/python -m training.mfcd features --data $(MFCD_DATA) --mvwatch bin/mvwatch --jobs 2
	scripts/fetch-trainfootage.sh
	nice -n 10 $(VENV)/bin/python -m training.mfcd real --data $(MFCD_DATA) --mvwatch bin/mvwatch --jobs 2
	rm -f training/out/mfcd/teacher.pt
	nice -n 10 $(VENV)/bin/python -m training.mfcd train --data $(MFCD_DATA) --out models/mfcd --work training/out/mfcd
	$(VENV)/bin/python -m training.mfcd report --model models/mfcd --out docs/MODELS.md

# Object class per track (issue 14): the training clips (scripts/fetch-trainfootage.sh) re-encoded to the
# evaluation's camera profile in 6 variants, their tracks (mvwatch tracks), raw-RGB teacher labels, a tiny MLP
# (fixed seed) into models/trackclass/ (model.json, embedded by Go, and the forward-pass fixture). CPU only,
# about 2 minutes on 2 cores. Then: go run ./cmd/mvwatch tracks -eval testdata/realfootage/manifest.json.
TRACKCLASS_WORK := training/out/trackclass
.PHONY: train-trackclass
train-trackclass: $(VENV)/.stamp
	$(GO) build -buildvcs=false -trimpath -o bin/mvwatch ./cmd/mvwatch
	nice -n 10 $(VENV)/bin/python -m training.trackclass dump --work $(TRACKCLASS_WORK) --mvwatch bin/mvwatch
	nice -n 10 $(VENV)/bin/python -m training.trackclass label --work $(TRACKCLASS_WORK)
	nice -n 10 $(VENV)/bin/python -m training.trackclass train --work $(TRACKCLASS_WORK) --out models/trackclass

# Event thumbnails (issue 6): the diffusion model into models/thumbnail, the step predictor's prompt sets,
# its labels (ladder method, one file per scheduler, 2 jobs) and the predictor into models/steppredictor.
# CPU only, about 16 + 25 + 5 minutes on 2 cores. Training is a wall-clock budget (--minutes), so the
# weights depend on how busy the machine is; the committed run's step count is in manifest.json.
THUMB_WORK := training/out/thumbnail
THUMB_LADDER := 3,4,5,6,8,10,12,15,20,25,30,40,50
THUMB_SCHEDULERS := ddim euler unipc heun dpm2_karras euler_a
.PHONY: train-thumbnail
train-thumbnail: $(VENV)/.stamp
	mkdir -p $(THUMB_WORK)
	nice -n 5 $(VENV)/bin/python -m training.thumbnail train --out models/thumbnail \
	  --size 32 --grammar events --channels 48,64 --precond --prior --latent-channels 24 --text-dim 32 --text-layers 2 \
	  --images 20000 --batch 48 --lr 1e-3 --ema 0.998 --minutes 20 --device cpu --threads 2
	$(VENV)/bin/python -m training.thumbnail prompts --out models/steppredictor
	awk 'NR%4==1' models/steppredictor/train.txt > $(THUMB_WORK)/train_every4.txt
	printf '%s\n' $(THUMB_SCHEDULERS) | xargs -P 2 -I{} sh -c 'P=models/steppredictor/train.txt; \
	  [ {} = euler_a ] && P=$(THUMB_WORK)/train_every4.txt; \
	  nice -n 10 $(VENV)/bin/python -m training.steppredictor labels --model-dir models/thumbnail \
	    --prompts $$P --seeds 2 --threads 1 --batch 24 --schedulers {} --ladder $(THUMB_LADDER) --reference 50 \
	    --guidance 1 --tolerance 0.99 --out training/steppredictor/data/steppred_labels_{}.jsonl'
	nice -n 10 $(VENV)/bin/python -m training.steppredictor train --objective tolerance \
	  --labels $$(printf 'training/steppredictor/data/steppred_labels_%s.jsonl,' $(THUMB_SCHEDULERS) | sed 's/,$$//') \
	  --out models/steppredictor --epochs 8 --lr 5e-5 --tolerance 0.99 --threads 2 --quantize --layers 4
