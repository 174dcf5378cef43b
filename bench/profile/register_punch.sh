#!/usr/bin/env bash
# Profiles RegisterPunch on PostgreSQL: one release `customerhub serve`, the
# `writes grpc` load at CONCURRENCY for DURATION seconds, `perf record -a -g`
# (cpu-clock: this machine has no hardware counters) over the middle of it,
# and a statement count from pg_stat_statements-free logging: every statement
# the service sends during half a second of registrations at concurrency 1,
# counted from the server log.
# Output: /tmp/customerhub-profile/{perf.data,report.txt,statements.txt}.
# Env: CONCURRENCY (8), DURATION (12).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/suites/lib.sh
CONCURRENCY=${CONCURRENCY:-8}
DURATION=${DURATION:-12}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
command -v perf >/dev/null || apt-get install -y linux-perf
TARGET=$(build_release)
OUT=/tmp/customerhub-profile
DB=customerhub_profile_writes
rm -rf "$OUT"; mkdir -p "$OUT/data"
dropdb --if-exists --force $DB; createdb $DB
port=$(free_port); http=$(free_port)
envs=(CUSTOMERHUB_DATA_DIR="$OUT/data" CUSTOMERHUB_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
  CUSTOMERHUB_LISTEN=127.0.0.1:$port CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$http CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0
  CUSTOMERHUB_RUN_WORKERS=false CUSTOMERHUB_LOG=warn)
KEY=$(env "${envs[@]}" "$TARGET/customerhub" bootstrap --workspace "Profile" --admin-email admin@bench.example.dk | tail -n 1)
env "${envs[@]}" "$TARGET/customerhub" serve >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; dropdb --if-exists --force $DB >/dev/null 2>&1 || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$TARGET/writes" setup --addr "http://127.0.0.1:$port" --key "$KEY" --cards 64 --out "$OUT/cards"

# Statements per registration: log every statement of this database briefly.
psql -qc "ALTER DATABASE $DB SET log_statement = 'all'" postgres
kill $SERVER; wait $SERVER 2>/dev/null || true # new connections pick the setting up
env "${envs[@]}" "$TARGET/customerhub" serve >"$OUT/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# Debian's PostgreSQL logs to /var/log/postgresql unless a logging collector is on.
LOG=$(psql -Atc "SELECT pg_current_logfile()" postgres)
if [[ -z $LOG ]]; then
  LOG=$(ls -t /var/log/postgresql/postgresql-*-main.log | head -n 1)
elif [[ $LOG != /* ]]; then
  LOG="$(psql -Atc "SHOW data_directory" postgres)/$LOG"
fi
before=$(wc -l <"$LOG")
probe=$("$TARGET/writes" grpc --addr "http://127.0.0.1:$port" --key "$KEY" --cards-file "$OUT/cards" --concurrency 1 \
  --duration 0.5 --warmup 0)
sleep 1 # let the log catch up
PROBE=$(jq -r .ok <<<"$probe")
tail -n +"$((before + 1))" "$LOG" | grep -E "statement: |execute " | sed -E 's/.*(statement|execute [^:]*): //' \
  | cut -c1-160 | sort | uniq -c | sort -rn >"$OUT/statements.txt"
total=$(awk '{s+=$1} END {print s}' "$OUT/statements.txt")
echo "statements: $total for about $PROBE registrations ($(echo "scale=1; $total / $PROBE" | bc) each; the probe's last request may be cut off)" | tee -a "$OUT/statements.txt"
psql -qc "ALTER DATABASE $DB RESET log_statement" postgres
kill $SERVER; wait $SERVER 2>/dev/null || true
env "${envs[@]}" "$TARGET/customerhub" serve >"$OUT/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

"$TARGET/writes" grpc --addr "http://127.0.0.1:$port" --key "$KEY" --cards-file "$OUT/cards" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 1 >"$OUT/load.json" &
LOAD=$!
sleep 3
perf record -a -g -e cpu-clock -o "$OUT/perf.data" -- sleep $((DURATION - 4)) 2>/dev/null
wait $LOAD
cat "$OUT/load.json"
perf report -i "$OUT/perf.data" --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8 >"$OUT/report.txt"
perf report -i "$OUT/perf.data" --comm tokio-rt-worker --no-children --sort dso,sym --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -40 >>"$OUT/report.txt"
cat "$OUT/report.txt"
