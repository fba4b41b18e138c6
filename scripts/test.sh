#!/usr/bin/env bash
# npm test: installs what the tests need when it can, builds, runs every test
# with tap, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

# Real components the tests use, from Debian's packages: command -> package.
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
{ command -v prometheus-alertmanager && command -v amtool; } >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test prerequisites: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/tmp/llmsoak-apt.log 2>&1 || {
      echo "llmsoak tests: could not install ${need[*]} (see /tmp/llmsoak-apt.log); install them with: apt-get install ${need[*]}"
      echo "0 passed, 1 failed"; exit 1; }
  else
    echo "llmsoak tests need Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})"
    echo "0 passed, 1 failed"; exit 1
  fi
fi

rm -rf dist
if ! npx tsc -p tsconfig.json; then
  echo "build failed (tsc)"; echo "0 passed, 1 failed"; exit 1
fi

files=("$@")
[ ${#files[@]} -eq 0 ] && files=(dist/test/*.test.js)
npx tap --reporter=tap "${files[@]}" 2>&1 | node scripts/tap-summary.mjs
