#!/usr/bin/env bash
# npm test: installs what the tests need when it can, builds, runs every test
# with tap's library (each file its own node process), and ends with one line "N passed, N failed".
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
# The image's build step (Dockerfile: tsc -p tsconfig.build.json), run once here in the
# background while the first, mostly waiting, test files start (two cores: beside the main
# build it made that build ~7 s longer). deploy.test.ts waits for $image/build.rc, lays the
# output out as the image does and runs it. (Not an LLMSOAK_ name: those are config
# overrides, read by every daemon the tests start.)
image=$(mktemp -d "${TMPDIR:-/tmp}/llmsoak-image.XXXXXX")
(npx tsc -p tsconfig.build.json --outDir "$image/dist" > "$image/build.log" 2>&1; echo $? > "$image/build.rc") &
image_build=$!
trap 'wait "$image_build" 2>/dev/null; rm -rf "$image"' EXIT
export NPM_TEST_IMAGE_BUILD="$image"

# Two phases (scripts/run-tests.mjs): the files shared out among parallel
# queues, longest first (test/durations.json), then the files whose claims
# are about CPU time or timing accuracy, alone. Arguments: only those files.
node scripts/run-tests.mjs "$@" 2>&1 | node scripts/tap-summary.mjs
