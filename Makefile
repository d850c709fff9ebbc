# Front door. `make` builds into build/, `make test` builds and runs every test
# through CTest, `make asan` does the same with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/, `make tsan` runs libpowersync's
# tests under ThreadSanitizer in build-tsan/. `make deps` installs what a fresh
# Debian 12 machine lacks.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build test asan tsan bench-pool deps format clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPOWERSYNC_ASAN=ON -DCMAKE_BUILD_TYPE=Debug"

# ThreadSanitizer: only libpowersync has threads, so only its tests (sdk_*)
# and the examples run; the core's single-threaded tests would add minutes.
tsan:
	$(MAKE) build BUILD=build-tsan CMAKE_FLAGS="-DPOWERSYNC_TSAN=ON -DCMAKE_BUILD_TYPE=Debug"
	cd build-tsan && ctest --output-on-failure -j $(JOBS) -R '^(sdk|example)_'

# Pool read throughput (not a test): bench/pool_read.c.
bench-pool: build
	cmake --build $(BUILD) --target bench_pool_read
	$(BUILD)/bench_pool_read

deps:
	scripts/install-deps.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
