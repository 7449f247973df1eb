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
