#!/usr/bin/env python3
"""GPU load in phases for the llmsoak GPU check (docs/gpu-check.md).

Phases, in order: idle, matmul (bf16 8192^3 matrix products: tensor cores
busy), copy (4 GiB device-to-device copies: DRAM bandwidth busy, tensor cores
idle), idle2. Every buffer is allocated and warmed up before the first phase,
so used GPU memory stays flat through all four. Prints JSON lines with unix-ms
times: {"event":"ready",...}, then {"phase":P,"event":"start","tMs":T} and
{"phase":P,"event":"end","tMs":T,...rates}. Exit 2 with one line when there is
no CUDA device.
"""
import argparse
import json
import sys
import time


def mark(**fields):
    print(json.dumps({**fields, "tMs": round(time.time() * 1000, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("idle", 15), ("matmul", 25), ("copy", 25), ("idle2", 15)):
        ap.add_argument(f"--{name}", type=float, default=default)
    a = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu-load: torch sees no CUDA device", file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    n = 8192
    x = torch.randn(n, n, dtype=torch.bfloat16, device=dev)
    y = torch.randn(n, n, dtype=torch.bfloat16, device=dev)
    z = torch.empty(n, n, dtype=torch.bfloat16, device=dev)
    copy_bytes = 4 * 1024**3
    src = torch.empty(copy_bytes, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    torch.mm(x, y, out=z)
    dst.copy_(src)
    torch.cuda.synchronize()
    mark(event="ready", device=torch.cuda.get_device_name(0), torch=torch.__version__, allocated_bytes=torch.cuda.memory_allocated())

    def idle(name, seconds):
        mark(phase=name, event="start")
        time.sleep(seconds)
        mark(phase=name, event="end")

    def busy(name, seconds, step, per_batch, work):
        mark(phase=name, event="start")
        t0 = time.time()
        done = 0
        while time.time() - t0 < seconds:
            for _ in range(per_batch):
                step()
            torch.cuda.synchronize()
            done += per_batch
        dt = time.time() - t0
        mark(phase=name, event="end", **{work[0]: round(done * work[1] / dt / work[2], 1)})

    idle("idle", a.idle)
    busy("matmul", a.matmul, lambda: torch.mm(x, y, out=z), 20, ("tflops", 2 * n**3, 1e12))
    # bytes read plus bytes written per copy
    busy("copy", a.copy, lambda: dst.copy_(src), 20, ("copy_gb_per_s", 2 * copy_bytes, 1e9))
    idle("idle2", a.idle2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
