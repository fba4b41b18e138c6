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

# The image's build step (Dockerfile: tsc -p tsconfig.build.json), run once here;
# deploy.test.ts lays it out as the image does and runs it.
image=$(mktemp -d "${TMPDIR:-/tmp}/llmsoak-image.XXXXXX")
trap 'rm -rf "$image"' EXIT
if ! npx tsc -p tsconfig.build.json --outDir "$image/dist"; then
  echo "build failed (tsc -p tsconfig.build.json)"; echo "0 passed, 1 failed"; exit 1
fi
# (Not an LLMSOAK_ name: those are config overrides, read by every daemon the tests start.)
export NPM_TEST_IMAGE_DIST="$image/dist"

# Tests whose claims are about CPU time or timing accuracy run alone, after the
# rest, so that no other test file takes the cores they measure.
serial=(dist/test/hints-cpu.test.js dist/test/accuracy-truth.test.js dist/test/request-phases.test.js)

files=("$@")
if [ ${#files[@]} -gt 0 ]; then
  npx tap --reporter=tap "${files[@]}" 2>&1 | node scripts/tap-summary.mjs
  exit "${PIPESTATUS[1]}"
fi
parallel=()
for f in dist/test/*.test.js; do
  case " ${serial[*]} " in *" $f "*) ;; *) parallel+=("$f") ;; esac
done
{
  npx tap --reporter=tap "${parallel[@]}" 2>&1
  npx tap --reporter=tap --jobs=1 "${serial[@]}" 2>&1
} | node scripts/tap-summary.mjs
