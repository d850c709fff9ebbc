# Front door. `make` builds into build/, `make demo` runs the narrated demo
# (dev server and two synced clients), `make test` builds and runs every test
# through CTest, `make asan` does the same with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/, `make tsan` runs libpowersync's
# tests under ThreadSanitizer in build-tsan/. `make deps` installs what a fresh
# Debian 12 machine lacks.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build demo test asan tsan bench-pool bench-sync-client deps format clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job: a local dev server and two synced clients, narrated.
demo: build
	$(BUILD)/powersync demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPOWERSYNC_ASAN=ON -DCMAKE_BUILD_TYPE=Debug"

# ThreadSanitizer: only libpowersync has threads, so only its tests (sdk_*)
# and the examples run; the core's single-threaded tests would add minutes.
tsan:
	$(MAKE) build BUILD=build-tsan CMAKE_FLAGS="-DPOWERSYNC_TSAN=ON -DCMAKE_BUILD_TYPE=Debug"
	cd build-tsan && ctest --output-on-failure -j $(JOBS) -R '^(sdk|example|tools)_'

# Pool read throughput (not a test): bench/pool_read.c.
bench-pool: build
	cmake --build $(BUILD) --target bench_pool_read
	$(BUILD)/bench_pool_read

# Peak RSS and speed of a whole client syncing 10k, 100k and 1M rows from
# the mock service (not a test): bench/sync_client_rss.c.
bench-sync-client: build
	cmake --build $(BUILD) --target bench_sync_client
	for n in 10000 100000 1000000; do $(BUILD)/bench_sync_client $$n; done
	for n in 10000 1000000; do $(BUILD)/bench_sync_client $$n 2048; done

deps:
	scripts/install-deps.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
