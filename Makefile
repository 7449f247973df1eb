# evbridge — the two commands of the README, and a few more.
#   make run            install what is missing, build, start evbridged on 127.0.0.1:50051
#   make test           install what is missing, build, run every test (ctest)
#   make test-sanitize  the same suite in an ASan+UBSan build (build-asan/)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN     ?= 127.0.0.1:50051
DATA_DIR   ?= ./data
CTEST_ARGS ?=

.PHONY: all deps build build-sanitize run test test-sanitize test-deps clean format

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-sanitize: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEVB_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	$(BUILD)/bin/evbridged --listen $(LISTEN) --data-dir $(DATA_DIR)

test-deps: deps
	@./scripts/test-deps.sh

test: build test-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-sanitize: build-sanitize test-deps
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

format:
	@find common registry server clients tests -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Fuzzing (docs/fuzzing.md; clang with libFuzzer, a separate ASan+UBSan build in build-fuzz/).
#   make fuzz-smoke     every target over its corpus + 20,000 fixed-seed mutations (ctest fuzz_smoke)
#   make fuzz           every target for FUZZ_SECONDS (600) seconds, one after another;
#                       FUZZ_TARGETS=pattern to pick
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= schema json pattern transform cloudevents put_events evbctl

.PHONY: fuzz-build fuzz fuzz-smoke

fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DEVB_FUZZ=ON -DEVB_SANITIZE=ON \
	  -DEVB_STRICT_SOURCES=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_BUILD) --target evb_fuzz_all -j $(JOBS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; \
	done

fuzz-smoke: deps
	@FUZZ_BUILD=$(FUZZ_BUILD) sh tests/fuzz/smoke.sh
