# Front door. `make` builds into build/, `make test` builds and runs every test
# through CTest, `make asan` does the same with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/. `make deps` installs what a fresh
# Debian 12 machine lacks.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build test asan tsan deps format clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPOWERSYNC_ASAN=ON -DCMAKE_BUILD_TYPE=Debug"

tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DPOWERSYNC_TSAN=ON -DCMAKE_BUILD_TYPE=Debug"

deps:
	scripts/install-deps.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
