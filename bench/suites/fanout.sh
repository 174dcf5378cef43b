#!/usr/bin/env bash
# Live fan-out: STREAMS (default 10,000) concurrent HubService/Subscribe streams
# on one customerhub (SQLite), CONTACTS (default 100) contacts of one customer
# with one HUB session each, STREAMS/CONTACTS streams per session; MESSAGES
# punch registrations (each = one HUB message per contact, so every stream
# receives every message). Beside it the bare tonic broadcast ceiling with the
# same streams and connections. Writes bench/results/fanout.md.
# Env: RUNS (default 5), STREAMS, CONTACTS, MESSAGES (default 20), PER_CONN (default 250),
#      CEILING_BODY_BYTES (default "same": the ceiling's messages as big as customerhub's).
set -euo pipefail
RUNS=${RUNS:-5}
STREAMS=${STREAMS:-10000}
CONTACTS=${CONTACTS:-100}
MESSAGES=${MESSAGES:-20}
PER_CONN=${PER_CONN:-250}
CEILING_BODY_BYTES=${CEILING_BODY_BYTES:-same} # or a number of bytes
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source bench/suites/lib.sh
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" # 10,000 streams need only ~40 sockets

BIN=$(build_release)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

: >"$WORK/rows.jsonl"
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  # customerhub: a fresh server and database per run, so every run starts alike.
  GRPC_PORT=$(free_port); HTTP_PORT=$(free_port)
  export CUSTOMERHUB_DATA_DIR=$WORK/data-$run CUSTOMERHUB_LISTEN=127.0.0.1:$GRPC_PORT \
    CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$HTTP_PORT CUSTOMERHUB_PUBLIC_HTTP_URL=http://127.0.0.1:$HTTP_PORT \
    CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0 CUSTOMERHUB_MAX_CONCURRENT_STREAMS=256
  KEY=$("$BIN/customerhub" bootstrap --workspace "Bench ApS" --admin-email admin@bench.example.dk 2>/dev/null | tail -n1)
  "$BIN/customerhub" serve >"$WORK/server-$run.log" 2>&1 &
  HUB_PID=$!
  PIDS+=("$HUB_PID")
  until curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null; do sleep 0.05; done
  "$BIN/seed" --addr "http://127.0.0.1:$GRPC_PORT" --key "$KEY" --contacts "$CONTACTS" --sessions --hub-only \
    >"$WORK/seed.json"
  # Let the welcome mails go out before measuring.
  sleep 2
  "$BIN/fanout" --target customerhub --addr "http://127.0.0.1:$GRPC_PORT" --server-pid "$HUB_PID" \
    --streams "$STREAMS" --streams-per-conn "$PER_CONN" --messages "$MESSAGES" \
    --seed "$WORK/seed.json" --key "$KEY" >>"$WORK/rows.jsonl"
  stop "$HUB_PID"

  # The ceiling sends messages as big as customerhub's (its last row says how
  # big); fewer bytes per stream would make the ceiling cheaper than the
  # same work (21-byte messages cost it about 40 % less CPU).
  BODY=$CEILING_BODY_BYTES
  if [[ $BODY == same ]]; then BODY=$(tail -n1 "$WORK/rows.jsonl" | python3 -c 'import json,sys; print(max(json.load(sys.stdin)["message_bytes"] - 20, 0))'); fi
  CEIL_PORT=$(free_port)
  "$BIN/ceiling" --listen "127.0.0.1:$CEIL_PORT" --max-concurrent-streams 256 >"$WORK/ceiling.log" 2>&1 &
  CEIL_PID=$!
  PIDS+=("$CEIL_PID")
  until (exec 3<>"/dev/tcp/127.0.0.1/$CEIL_PORT") 2>/dev/null; do sleep 0.05; done
  "$BIN/fanout" --target ceiling --addr "http://127.0.0.1:$CEIL_PORT" --server-pid "$CEIL_PID" \
    --streams "$STREAMS" --streams-per-conn "$PER_CONN" --messages "$MESSAGES" --body-bytes "$BODY" \
    >>"$WORK/rows.jsonl"
  stop "$CEIL_PID"
done

mkdir -p bench/results
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
python3 - "$WORK/rows.jsonl" "$RUNS" "$CONTACTS" "$MACHINE" <<'PY' | tee bench/results/fanout.md
import json, statistics, sys
from collections import defaultdict
rows, runs, contacts, machine = sys.argv[1:5]
d = defaultdict(lambda: defaultdict(list))
meta = {}
for line in open(rows):
    r = json.loads(line)
    t = r["target"]
    meta[t] = r
    for k in ("p50", "p90", "p99", "max"):
        d[t][k].append(r["latency_ms"][k])
    d[t]["kib"].append(r["bytes_per_stream"] / 1024)
    d[t]["open"].append(r["open_secs"])
    d[t]["create"].append(r["create_call_ms"]["p50"])
    d[t]["missing"].append(r["missing"])
    d[t]["rss"].append(r["rss_after_kib"] / 1024)
    d[t]["cpu"].append(r["server_cpu_ms_per_message"])
    d[t]["bytes"].append(r["message_bytes"])
def cell(t, k, fmt="{:.1f}"):
    v = d[t][k]
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"
m = meta["customerhub"]
print("# Live fan-out\n")
print(f"Machine: {machine}; load generator on the same machine. {runs} runs; median (min–max).\n")
print(f"customerhub on SQLite (fresh database per run): {m['streams']} HubService/Subscribe streams over "
      f"{m['connections']} HTTP/2 connections (CUSTOMERHUB_MAX_CONCURRENT_STREAMS=256), {contacts} contacts of one "
      f"customer with one HUB session each, {m['streams'] // int(contacts)} streams per session. Each of the "
      f"{m['messages']} messages is one PunchCardService/RegisterPunch (notifications: HUB only, no e-mail), which "
      "writes one HUB message per contact, so every stream receives every message: the worst case of fan-out. "
      "Latency: from just before the create call to the moment each stream received it. Memory per idle stream: "
      "server VmRSS growth from before opening the streams to 2 s after all are live, divided by the streams. "
      "Server CPU per message: the server's user and system time over the measured messages (pauses between them "
      "included), divided by the messages. "
      "Ceiling: the bare tonic broadcast (`ceiling`), same streams and connections, messages by Publish, their "
      "bodies padded so that they are as big as customerhub's (message bytes: the encoded protobuf message).\n")
print("| server | message bytes | p50 ms | p90 ms | p99 ms | max ms | create call p50 ms | server CPU ms per message | KiB per idle stream | RSS with streams MiB | open all s | missing receipts |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for t in ("customerhub", "ceiling"):
    print(f"| {t} | {cell(t,'bytes','{:.0f}')} | {cell(t,'p50')} | {cell(t,'p90')} | {cell(t,'p99')} | {cell(t,'max')} | {cell(t,'create')} | {cell(t,'cpu')} | "
          f"{cell(t,'kib')} | {cell(t,'rss')} | {cell(t,'open')} | {cell(t,'missing','{:.0f}')} |")
print()
print("| target | measured (median) | met |")
print("|---|---|---|")
p99 = statistics.median(d["customerhub"]["p99"]); kib = statistics.median(d["customerhub"]["kib"])
print(f"| p99 create-to-receive <= 50 ms | {p99:.1f} ms | {'yes' if p99 <= 50 else 'no'} |")
print(f"| memory per idle stream <= 16 KiB | {kib:.1f} KiB | {'yes' if kib <= 16 else 'no'} |")
PY
