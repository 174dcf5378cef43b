#!/usr/bin/env bash
# Footprint on SQLite: start-to-SERVING (grpc.health.v1, polled every 5 ms)
# and idle RSS (~2 s after SERVING), on an already migrated and bootstrapped
# data dir and on a fresh, never-migrated one. Writes bench/results/footprint.md.
# Env: RUNS (default 5), IDLE_MS (default 2000).
set -euo pipefail
RUNS=${RUNS:-5}
IDLE_MS=${IDLE_MS:-2000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source bench/suites/lib.sh

BIN=$(build_release)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

measure() { # kind data-dir
  local port http
  port=$(free_port); http=$(free_port)
  # `startup` spawns `customerhub serve` and kills it when done; it runs in the
  # foreground, so the trap only needs to end it if the script is interrupted.
  CUSTOMERHUB_DATA_DIR=$2 CUSTOMERHUB_LISTEN=127.0.0.1:$port CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$http \
    CUSTOMERHUB_PUBLIC_HTTP_URL=http://127.0.0.1:$http \
    "$BIN/startup" --bin "$BIN/customerhub" --addr "http://127.0.0.1:$port" --idle-ms "$IDLE_MS" >"$WORK/one.json" &
  PIDS+=($!)
  wait "${PIDS[-1]}"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(sys.argv[1], d["start_to_serving_ms"], d["rss_idle_kib"], d["rss_at_serving_kib"], sep="\t")' \
    "$1" "$WORK/one.json" >>"$WORK/rows.tsv"
}

READY=$WORK/ready
CUSTOMERHUB_DATA_DIR=$READY "$BIN/customerhub" bootstrap --workspace "Bench ApS" --admin-email admin@bench.example.dk >/dev/null 2>&1
: >"$WORK/rows.tsv"
# One untimed start to warm the page cache for the binary.
measure warmup "$READY"
: >"$WORK/rows.tsv"
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  measure migrated "$READY"
  measure fresh "$WORK/fresh-$run"
done

mkdir -p bench/results
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
python3 - "$WORK/rows.tsv" "$RUNS" "$IDLE_MS" "$MACHINE" <<'PY' | tee bench/results/footprint.md
import statistics, sys
from collections import defaultdict
rows, runs, idle, machine = sys.argv[1:5]
d = defaultdict(lambda: defaultdict(list))
for line in open(rows):
    kind, ms, rss, rss0 = line.split("\t")
    d[kind]["ms"].append(float(ms)); d[kind]["rss"].append(int(rss) / 1024); d[kind]["rss0"].append(int(rss0) / 1024)
def cell(kind, k, fmt="{:.1f}"):
    v = d[kind][k]
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"
print("# Footprint on SQLite\n")
print(f"Machine: {machine}. {runs} runs; median (min–max). Start-to-SERVING: from spawning `customerhub serve`"
      f" until grpc.health.v1 Check answers SERVING (polled every 5 ms). Idle RSS: VmRSS {idle} ms after SERVING."
      " Default settings (workers on), release build.\n")
print("| data dir | start-to-SERVING ms | RSS at SERVING MiB | idle RSS MiB |")
print("|---|---|---|---|")
for kind, label in (("migrated", "migrated + bootstrapped"), ("fresh", "fresh (migrations run at start)")):
    print(f"| {label} | {cell(kind, 'ms')} | {cell(kind, 'rss0')} | {cell(kind, 'rss')} |")
print()
print("| target | measured (median) | met |")
print("|---|---|---|")
rss = statistics.median(d["migrated"]["rss"]); ms = statistics.median(d["migrated"]["ms"])
print(f"| idle RSS <= 30 MiB | {rss:.1f} MiB | {'yes' if rss <= 30 else 'no'} |")
print(f"| start-to-SERVING <= 300 ms (migrated) | {ms:.0f} ms | {'yes' if ms <= 300 else 'no'} |")
msf = statistics.median(d["fresh"]["ms"])
print(f"| start-to-SERVING <= 300 ms (fresh, for information) | {msf:.0f} ms | {'yes' if msf <= 300 else 'no'} |")
PY
