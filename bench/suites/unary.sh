#!/usr/bin/env bash
# Unary read: CustomerService/GetCustomer with an API key against the bare
# tonic Echo ceiling, with h2load at 1 connection x 1 stream and
# 4 connections x 25 streams; beside them HubService/GetProfile with a HUB
# session (a HUB call's own cost). Writes bench/results/unary.md.
# Env: RUNS (default 5), DURATION (seconds measured per test, default 4; after 1 s warm-up).
set -euo pipefail
RUNS=${RUNS:-5}
DURATION=${DURATION:-4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source bench/suites/lib.sh

command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq nghttp2-client; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
BIN=$(build_release)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A gRPC frame: 0 (uncompressed), 4-byte big-endian length, then a message whose field 1 is the string $1.
grpc_frame() {
  python3 -c 'import sys,struct; v=sys.argv[1].encode(); m=b"\x0a"+bytes([len(v)])+v; sys.stdout.buffer.write(b"\x00"+struct.pack(">I",len(m))+m)' "$1"
}
# Checks one call answers grpc-status 0 (trailers are printed by curl -v).
check_grpc_ok() { # url body auth-header
  local out
  out=$(curl -sv --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' ${3:+-H "$3"} \
    --data-binary @"$2" -o /dev/null "$1" 2>&1)
  if ! grep -qi '^< grpc-status: 0' <<<"$out"; then
    echo "not a gRPC success: $1" >&2; grep -i '^< ' <<<"$out" >&2; exit 1
  fi
}

GRPC_PORT=$(free_port); HTTP_PORT=$(free_port); ECHO_PORT=$(free_port)
export CUSTOMERHUB_DATA_DIR=$WORK/data CUSTOMERHUB_LISTEN=127.0.0.1:$GRPC_PORT \
  CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$HTTP_PORT CUSTOMERHUB_PUBLIC_HTTP_URL=http://127.0.0.1:$HTTP_PORT \
  CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0
KEY=$("$BIN/customerhub" bootstrap --workspace "Bench ApS" --admin-email admin@bench.example.dk 2>/dev/null | tail -n1)
"$BIN/customerhub" serve >"$WORK/server.log" 2>&1 &
PIDS+=($!)
"$BIN/ceiling" --listen "127.0.0.1:$ECHO_PORT" >"$WORK/ceiling.log" 2>&1 &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null; do sleep 0.05; done
"$BIN/seed" --addr "http://127.0.0.1:$GRPC_PORT" --key "$KEY" --contacts 2 --sessions >"$WORK/seed.json"
CUSTOMER=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["customer_id"])' "$WORK/seed.json")
SESSION=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sessions"][0]["token"])' "$WORK/seed.json")
grpc_frame "$CUSTOMER" >"$WORK/get.bin"
grpc_frame "$CUSTOMER" >"$WORK/echo.bin"
printf '\0\0\0\0\0' >"$WORK/empty.bin" # GetProfileRequest has no fields
HUB_URL=http://127.0.0.1:$GRPC_PORT/customerhub.v1.CustomerService/GetCustomer
PROFILE_URL=http://127.0.0.1:$GRPC_PORT/customerhub.v1.HubService/GetProfile
ECHO_URL=http://127.0.0.1:$ECHO_PORT/bench.v1.CeilingService/Echo
check_grpc_ok "$HUB_URL" "$WORK/get.bin" "authorization: Bearer $KEY"
check_grpc_ok "$PROFILE_URL" "$WORK/empty.bin" "authorization: Bearer $SESSION"
check_grpc_ok "$ECHO_URL" "$WORK/echo.bin" ""

run_h2load() { # name url body seconds c m [auth]
  local name=$1 url=$2 body=$3 secs=$4 c=$5 m=$6 auth=${7:-}
  local hdr=(-H 'content-type: application/grpc' -H 'te: trailers')
  [[ -n $auth ]] && hdr+=(-H "$auth")
  rm -f "$WORK/h2.log" # h2load appends to its log file
  h2load -D "$secs" --warm-up-time 1 -c "$c" -m "$m" "${hdr[@]}" -d "$body" --log-file "$WORK/h2.log" "$url" >"$WORK/h2.out"
  local done failed
  done=$(awk '/^requests:/ {print $8}' "$WORK/h2.out")
  failed=$(awk '/^requests:/ {print $10}' "$WORK/h2.out")
  if [[ $done == 0 || $failed != 0 ]]; then
    echo "h2load $name: $done done, $failed failed" >&2; cat "$WORK/h2.out" >&2; exit 1
  fi
  # Log columns: start (us), HTTP status, latency (us).
  python3 - "$WORK/h2.out" "$WORK/h2.log" "$name" $((c * m)) >>"$WORK/rows.tsv" <<'PY'
import re, sys
out, log, name, in_flight = sys.argv[1:5]
rps = float(re.search(r"finished in [^,]+, ([0-9.]+) req/s", open(out).read()).group(1))
lat, bad = [], 0
for line in open(log):
    f = line.split()
    if len(f) < 3:
        continue
    if f[1] != "200":
        bad += 1
        continue
    lat.append(int(f[2]))
# Only the requests cut off when the duration ends may lack a 200.
if bad > int(in_flight):
    sys.exit(f"{name}: {bad} non-200 answers")
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000.0
print(f"{name}\t{rps}\t{q(0.5)}\t{q(0.99)}")
PY
}

# Warm up both servers (connections, caches, allocator).
for cfg in "1 1" "4 25"; do
  read -r c m <<<"$cfg"
  run_h2load warmup "$HUB_URL" "$WORK/get.bin" 1 "$c" "$m" "authorization: Bearer $KEY"
  run_h2load warmup "$PROFILE_URL" "$WORK/empty.bin" 1 "$c" "$m" "authorization: Bearer $SESSION"
  run_h2load warmup "$ECHO_URL" "$WORK/echo.bin" 1 "$c" "$m"
done
: >"$WORK/rows.tsv"
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  run_h2load "customerhub 1x1" "$HUB_URL" "$WORK/get.bin" "$DURATION" 1 1 "authorization: Bearer $KEY"
  run_h2load "echo 1x1" "$ECHO_URL" "$WORK/echo.bin" "$DURATION" 1 1
  run_h2load "hub-profile 1x1" "$PROFILE_URL" "$WORK/empty.bin" "$DURATION" 1 1 "authorization: Bearer $SESSION"
  run_h2load "customerhub 4x25" "$HUB_URL" "$WORK/get.bin" "$DURATION" 4 25 "authorization: Bearer $KEY"
  run_h2load "echo 4x25" "$ECHO_URL" "$WORK/echo.bin" "$DURATION" 4 25
  run_h2load "hub-profile 4x25" "$PROFILE_URL" "$WORK/empty.bin" "$DURATION" 4 25 "authorization: Bearer $SESSION"
done

mkdir -p bench/results
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
python3 - "$WORK/rows.tsv" "$RUNS" "$DURATION" "$MACHINE" <<'PY' | tee bench/results/unary.md
import statistics, sys
from collections import defaultdict
rows, runs, secs, machine = sys.argv[1:5]
data = defaultdict(lambda: defaultdict(list))
for line in open(rows):
    name, rps, p50, p99 = line.rstrip("\n").split("\t")
    for k, v in (("rps", rps), ("p50", p50), ("p99", p99)):
        data[name][k].append(float(v))
med = lambda name, k: statistics.median(data[name][k])
def cell(name, k, fmt):
    v = data[name][k]
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"
print("# Unary read: GetCustomer vs bare tonic Echo\n")
print(f"Machine: {machine}. h2load (one thread) on the same machine; {runs} runs of {secs} s per test after a"
      " 1 s warm-up (-D, --warm-up-time); median (min–max). GetCustomer with an admin API key on SQLite, rate limit"
      " off; the ceiling is the bare tonic Echo (`ceiling`). hub-profile: HubService/GetProfile with a HUB session"
      " token (not part of the targets; it shows what a HUB call costs). Latency per request from h2load's --log-file.\n")
print("| server | conns x streams | requests/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|")
for cfg in ("1x1", "4x25"):
    for srv in ("customerhub", "echo", "hub-profile"):
        name = f"{srv} {cfg}"
        print(f"| {srv} | {cfg} | {cell(name, 'rps', '{:.0f}')} | {cell(name, 'p50', '{:.3f}')} | {cell(name, 'p99', '{:.3f}')} |")
print()
print("| target | measured | met |")
print("|---|---|---|")
for cfg in ("1x1", "4x25"):
    r = med(f"customerhub {cfg}", "rps") / med(f"echo {cfg}", "rps")
    print(f"| requests/s >= 50 % of echo ({cfg}) | {r*100:.0f} % | {'yes' if r >= 0.5 else 'no'} |")
r = med("customerhub 1x1", "p99") / med("echo 1x1", "p99")
print(f"| p99 at 1x1 <= 2x echo | {r:.2f}x | {'yes' if r <= 2 else 'no'} |")
PY
