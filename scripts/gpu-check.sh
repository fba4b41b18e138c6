#!/usr/bin/env bash
# The GPU check (docs/gpu-check.md), on a machine with an NVIDIA GPU:
#   scripts/gpu-check.sh OUTDIR
# Checks what exists (Node, nvidia-smi and the driver, python3 with PyTorch and
# CUDA), then runs llmsoak's GPU collector beside nvidia-smi for ~90 s while
# scripts/gpu-load.py loads the GPU in phases, and writes to OUTDIR (flat, 7
# files): env.txt, check.log, table.md, run.json, collector.jsonl,
# nvidia-smi-query.csv, nvidia-smi-dmon.txt. Exit 0: every series agrees and
# every rule reads its phase; 1: a FAIL line (or something needed is missing).
# Node, the compiled check and its npm packages come from .gpucheck/ (made by
# scripts/gpu-check-pack.sh) when it is there, else from PATH and ./dist.
# GPUCHECK_SECONDS=a,b,c,d shortens the four phases and GPUCHECK_NO_PACK=1 ignores
# .gpucheck (the dry run over fakes in test/gpu-check-dry-run.test.ts).
set -uo pipefail
out=${1:?usage: scripts/gpu-check.sh OUTDIR}
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$out" || exit 1
env_txt="$out/env.txt"
: > "$env_txt"
log() { printf '%s\n' "$*" | tee -a "$env_txt"; }
fail() { log "gpu-check: FAIL $*"; exit 1; }

log "gpu-check $(date -u +%FT%TZ) on $(uname -srm)"

# --- NVIDIA driver and GPU
command -v nvidia-smi >/dev/null || fail "nvidia-smi is not on PATH: no NVIDIA driver here"
gpus=$(nvidia-smi -L 2>&1) || fail "nvidia-smi -L: $(echo "$gpus" | head -1)"
log "$gpus"
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader -i 0 2>&1) || fail "nvidia-smi cannot read the driver version: $driver"
log "driver $driver"

# --- python3 with PyTorch and CUDA
torch=$(python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())' 2>&1) || fail "python3 cannot import torch: $(echo "$torch" | tail -1)"
log "torch $torch"
[ "${torch##* }" = True ] || fail "torch sees no CUDA device"

# --- Node: carried (.gpucheck/node.xz) or from PATH
node=""
if [ -f .gpucheck/node.xz ] && [ -z "${GPUCHECK_NO_PACK:-}" ]; then
  node=/tmp/llmsoak-gpucheck-node
  if command -v xz >/dev/null; then xz -dc .gpucheck/node.xz > "$node"
  else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' .gpucheck/node.xz "$node"
  fi || fail "cannot unpack .gpucheck/node.xz"
  chmod +x "$node"
  if [ -f .gpucheck/node.sha256 ] && ! echo "$(cat .gpucheck/node.sha256)  $node" | sha256sum -c --quiet - 2>/dev/null; then
    fail "the unpacked Node does not match .gpucheck/node.sha256"
  fi
  log "node $("$node" --version 2>&1) (carried in .gpucheck)"
elif command -v node >/dev/null; then
  node=$(command -v node)
  log "node $("$node" --version) (from PATH: $node; no .gpucheck/node.xz)"
else
  fail "no Node: none on PATH and no .gpucheck/node.xz (run scripts/gpu-check-pack.sh where the repo is, and carry .gpucheck)"
fi
"$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || fail "Node $("$node" --version) is older than 20"

# --- the compiled check and its packages
if [ -f .gpucheck/dist/bench/gpu-check.js ] && [ -z "${GPUCHECK_NO_PACK:-}" ]; then entry=.gpucheck/dist/bench/gpu-check.js
elif [ -f dist/bench/gpu-check.js ] && [ -d node_modules/koffi ]; then entry=dist/bench/gpu-check.js
else fail "no compiled check: carry .gpucheck (scripts/gpu-check-pack.sh) or dist and node_modules"
fi
log "check $entry"

# --- libnvidia-ml.so.1 as dlopen finds it, or where drivers put it
lib=libnvidia-ml.so.1
if ! ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1 '; then
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/cuda/compat; do
    if [ -e "$d/libnvidia-ml.so.1" ]; then lib="$d/libnvidia-ml.so.1"; break; fi
  done
fi
log "NVML library $lib"

# --- the run: bounded, output kept in check.log
timeout -k 10 360 "$node" "$entry" --out "$out" --library "$lib" --load scripts/gpu-load.py --dashboards grafana/dashboards --seconds "${GPUCHECK_SECONDS:-15,25,25,15}" 2>&1 | tee "$out/check.log"
rc=${PIPESTATUS[0]}
case $rc in
  0) log "gpu-check: PASS" ;;
  1) log "gpu-check: FAIL (the FAIL lines above, and $out/table.md)" ;;
  124|137) log "gpu-check: FAIL the check ran past 360 s and was stopped" ;;
  *) log "gpu-check: FAIL the check could not run (exit $rc; see $out/check.log)" ;;
esac
[ "$rc" = 0 ]
