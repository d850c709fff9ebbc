# Run as the differential_official_vs_ours test when CMake found no node:
# fails with instructions instead of skipping silently.
message(FATAL_ERROR "differential_official_vs_ours: node was not found. "
  "Install Node.js >= 18 and the test dependencies with scripts/install-deps.sh "
  "(or: cd tests/differential && npm ci && npm rebuild better-sqlite3), then "
  "re-run cmake.")
