#!/usr/bin/env bash
# Where the CPU goes, per unit of work, for the two gaps of issue #9 that
# remain: RegisterPunch beside pgbench's INSERT, and customerhub's e-mail
# delivery beside bare lettre. Every process shares this machine's cores, so
# each side's rate is bounded by its CPU time per unit; this prints that time
# split by process, from `perf record -a` samples (cpu-clock, 999 Hz) taken
# while each side runs alone.
#
# Roles: "service" is `customerhub serve` (writes) or nothing (e-mail, where
# `mail deliver` runs the worker in-process and is the "command"); "command"
# is the load generator or sender being timed; "sink" is the SMTP sink;
# "postgres" is every PostgreSQL process; "idle" is CPU nobody used.
#
# Output: a table on stdout and in bench/results/cpu_budget.md.
# Env: CONCURRENCY (32), DURATION (8), MAILS (30000).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/suites/lib.sh
CONCURRENCY=${CONCURRENCY:-32}
DURATION=${DURATION:-8}
MAILS=${MAILS:-30000}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
command -v perf >/dev/null || apt-get install -y linux-perf
command -v pgbench >/dev/null || apt-get install -y postgresql-contrib
command -v jq >/dev/null || apt-get install -y jq
TARGET=$(build_release)
OUT=/tmp/customerhub-cpu-budget
DB=customerhub_cpu_budget
rm -rf "$OUT"; mkdir -p "$OUT/data"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  dropdb --if-exists --force $DB >/dev/null 2>&1 || true
}
trap cleanup EXIT
ROWS=()

# profile LABEL UNITS_CMD SERVICE_PID SINK_PID -- command...: runs the command
# under `perf record -a`; its stdout goes to $OUT/LABEL.out; UNITS_CMD reads
# the units of work done from that file. Appends a table row.
profile() {
  local label=$1 units_cmd=$2 service=$3 sink=$4; shift 5
  perf record -a -F 999 -e cpu-clock -o "$OUT/$label.perf" -- "$@" >"$OUT/$label.out" 2>"$OUT/$label.err"
  local units; units=$(eval "$units_cmd" <"$OUT/$label.out")
  perf script -i "$OUT/$label.perf" -F pid,comm 2>/dev/null | awk -v svc="$service" -v sink="$sink" -v units="$units" \
    -v label="$label" '
    { pid = $NF; comm = $1; for (i = 2; i < NF; i++) comm = comm " " $i
      role = (pid == 0) ? "idle" : (pid == svc) ? "service" : (pid == sink) ? "sink" : (comm == "postgres") ? "postgres" : "command"
      n[role]++; total++ }
    END {
      # 999 samples a second per core: CPU microseconds per unit = samples / 999 / units * 1e6.
      f = 1e6 / 999 / units
      busy = total - n["idle"]
      printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", label, units, busy * f, n["service"] * f, n["command"] * f, n["postgres"] * f, n["sink"] * f, n["idle"] * f
    }' | tee -a "$OUT/rows"
}

# start_server: serves with ENVS (listening where they say); sets SERVER
# once its health endpoint on $http answers.
start_server() {
  env "${ENVS[@]}" "$TARGET/customerhub" serve >"$OUT/serve.log" 2>&1 &
  SERVER=$!; PIDS+=($SERVER)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}

# ---- write path: RegisterPunch against pgbench's INSERT
dropdb --if-exists --force $DB >/dev/null 2>&1 || true; createdb $DB
port=$(free_port); http=$(free_port)
ENVS=(CUSTOMERHUB_DATA_DIR="$OUT/data" CUSTOMERHUB_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
  CUSTOMERHUB_LISTEN=127.0.0.1:$port CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$http CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0
  CUSTOMERHUB_RUN_WORKERS=false CUSTOMERHUB_LOG=warn)
KEY=$(env "${ENVS[@]}" "$TARGET/customerhub" bootstrap --workspace "Budget" --admin-email admin@bench.example.dk | tail -n 1)
start_server
"$TARGET/writes" setup --addr "http://127.0.0.1:$port" --key "$KEY" --cards 64 --out "$OUT/cards" >/dev/null
"$TARGET/writes" grpc --addr "http://127.0.0.1:$port" --key "$KEY" --cards-file "$OUT/cards" --concurrency "$CONCURRENCY" \
  --duration 2 --warmup 0 >/dev/null # warm the statement caches
profile "RegisterPunch, $CONCURRENCY clients" 'jq -r .ok' "$SERVER" none -- \
  "$TARGET/writes" grpc --addr "http://127.0.0.1:$port" --key "$KEY" --cards-file "$OUT/cards" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 0
kill $SERVER; wait $SERVER 2>/dev/null || true
psql -q -d $DB -c "CREATE TABLE bench_registrations (id BIGSERIAL PRIMARY KEY, card_id TEXT NOT NULL,
  description TEXT NOT NULL, amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
echo "INSERT INTO bench_registrations (card_id, description, amount) VALUES ('0190c6f2-0000-7000-8000-000000000001', 'Vinduespudsning, alle sider', 1);" >"$OUT/insert.sql"
profile "pgbench INSERT, $CONCURRENCY clients" "awk '/number of transactions actually processed/ {print \$NF}' | cut -d/ -f1" none none -- \
  pgbench -n -c "$CONCURRENCY" -j "$CONCURRENCY" -T "$DURATION" -f "$OUT/insert.sql" $DB

# ---- e-mail: customerhub's delivery worker against bare lettre
dropdb --force $DB; createdb $DB
rm -rf "$OUT/data"; mkdir -p "$OUT/data"
smtp=$(free_port); stats=$(free_port)
"$TARGET/mail" sink --listen 127.0.0.1:$smtp --stats 127.0.0.1:$stats 2>"$OUT/sink.log" &
SINK=$!; PIDS+=($SINK)
KEY=$(env "${ENVS[@]}" "$TARGET/customerhub" bootstrap --workspace "Budget" --admin-email admin@bench.example.dk | tail -n 1)
start_server
"$TARGET/mail" queue --addr "http://127.0.0.1:$port" --key "$KEY" --contacts 100 --registrations $((MAILS / 100 - 1)) >/dev/null
kill $SERVER; wait $SERVER 2>/dev/null || true
url="postgres://postgres@127.0.0.1:5432/$DB"
profile "e-mail, customerhub worker" 'jq -r .delivered' none "$SINK" -- \
  "$TARGET/mail" deliver --database-url "$url" --smtp-url "smtp://127.0.0.1:$smtp" --stats 127.0.0.1:$stats
profile "e-mail, bare lettre" 'jq -r .delivered' none "$SINK" -- \
  "$TARGET/mail" lettre --database-url "$url" --smtp 127.0.0.1:$smtp --stats 127.0.0.1:$stats --count "$MAILS" --concurrency 8

{
  echo "# CPU per unit of work"
  echo
  echo "Written by \`bench/profile/cpu_budget.sh\` (CONCURRENCY=$CONCURRENCY, DURATION=$DURATION, MAILS=$MAILS) on"
  echo "$(date -u '+%F %H:%M') UTC: $(nproc) cores, $(psql -Atc 'SHOW server_version' postgres | cut -d' ' -f1) PostgreSQL, everything on the same cores."
  echo "CPU microseconds per unit (registration, INSERT transaction or mail), from \`perf record -a\`"
  echo "cpu-clock samples at 999 Hz while each side ran alone; \"idle\" is CPU no process used."
  echo
  echo "| what | units | busy µs/unit | service | command | postgres | sink | idle µs/unit |"
  echo "|---|---|---|---|---|---|---|---|"
  cat "$OUT/rows"
} | tee bench/results/cpu_budget.md
