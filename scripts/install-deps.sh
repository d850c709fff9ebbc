#!/usr/bin/env bash
# Installs what building and testing powersync-c needs on Debian 12, as root.
# Idempotent: packages already present are left alone, and npm modules are
# installed only when tests/differential/node_modules is missing or stale.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev libsqlite3-dev sqlite3
          libcmocka-dev libcurl4-openssl-dev zlib1g-dev libmicrohttpd-dev libyaml-dev
          nodejs npm python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# Node.js may come from elsewhere than Debian's package; accept any node >= 18.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}")
  missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

# The differential tests host the official core in better-sqlite3.
if [ -f tests/differential/package-lock.json ]; then
  stamp=tests/differential/node_modules/.installed-lock
  if ! cmp -s tests/differential/package-lock.json "$stamp" 2>/dev/null; then
    (cd tests/differential && npm ci --no-audit --no-fund --foreground-scripts \
      && npm rebuild better-sqlite3)
    cp tests/differential/package-lock.json "$stamp"
  fi
fi
