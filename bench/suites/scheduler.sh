#!/usr/bin/env bash
# Scheduler (issue #9): 100,000 staff-reminder occurrences due at once on PostgreSQL,
# fired by one and by three `customerhub serve` replicas; exactly-once checked in SQL.
# Beside it: pgbench claiming one due row at a time with FOR UPDATE SKIP LOCKED from a
# 100k-row table at the same concurrency. Writes bench/results/scheduler.md.
#
# Env: RUNS (3), COUNT (100000), REPLICAS ("1 3"), INTERVAL scheduler seconds (1),
#      TIMEOUT seconds per run (40; the target is all fired within TARGET=30 s),
#      CLAIM_SECS seconds per pgbench claim run (10).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/suites/lib.sh

RUNS=${RUNS:-3}
COUNT=${COUNT:-100000}
REPLICAS=${REPLICAS:-"1 3"}
INTERVAL=${INTERVAL:-1}
TIMEOUT=${TIMEOUT:-40}
TARGET_SECS=${TARGET:-30}
CLAIM_SECS=${CLAIM_SECS:-10}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
PG="postgres://postgres@127.0.0.1:5432"
TPL=customerhub_bench_sched_tpl
RUNDB=customerhub_bench_sched_run
CLAIMDB=customerhub_bench_sched_pgbench

command -v pgbench >/dev/null || apt-get install -y postgresql-contrib
command -v jq >/dev/null || apt-get install -y jq
TARGET=$(build_release)

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in $RUNDB $TPL $CLAIMDB; do dropdb --if-exists --force "$d" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT


# The seeded template: one workspace (one admin), one customer, COUNT due one-off reminders.
for d in $RUNDB $TPL $CLAIMDB; do dropdb --if-exists --force "$d" >/dev/null 2>&1 || true; done
createdb $TPL
port=$(free_port); http=$(free_port)
envs=(CUSTOMERHUB_DATA_DIR="$TMP/seed" CUSTOMERHUB_DATABASE_URL="$PG/$TPL" CUSTOMERHUB_LISTEN=127.0.0.1:$port
  CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$http CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0 CUSTOMERHUB_RUN_WORKERS=false
  CUSTOMERHUB_LOG=warn)
mkdir -p "$TMP/seed"
KEY=$(env "${envs[@]}" "$TARGET/customerhub" bootstrap --workspace "Bench scheduler" \
  --admin-email admin@bench.example.dk 2>>"$TMP/seed/serve.log" | tail -n 1)
env "${envs[@]}" "$TARGET/customerhub" serve >>"$TMP/seed/serve.log" 2>&1 &
SEED_PID=$!; PIDS+=($SEED_PID)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$TARGET/scheduler" seed --addr "http://127.0.0.1:$port" --key "$KEY" --database-url "$PG/$TPL" --count "$COUNT"
kill $SEED_PID; wait $SEED_PID 2>/dev/null || true

ROWS=()
ALL_OK=1
for r in $REPLICAS; do
  done_secs=(); rates=(); at_target=(); checks=""
  for run in $(seq "$RUNS"); do
    dropdb --if-exists --force $RUNDB >/dev/null 2>&1 || true
    createdb -T $TPL $RUNDB
    line=$("$TARGET/scheduler" run --bin "$TARGET/customerhub" --database-url "$PG/$RUNDB" --replicas "$r" \
      --interval-secs "$INTERVAL" --timeout-secs "$TIMEOUT" --target-secs "$TARGET_SECS" --work-dir "$TMP/run-$r-$run")
    echo "  $r replica(s) run $run: $line" >&2
    rates+=("$(jq -r .per_second <<<"$line")")
    at_target+=("$(jq -r .fired_at_target <<<"$line")")
    s=$(jq -r '.all_fired_secs // empty' <<<"$line")
    done_secs+=("${s:-inf}")
    [[ $(jq -r .exactly_once <<<"$line") == true ]] || ALL_OK=0
    checks+="$(jq -r '"\(.fired) fired, \(.duplicate_reminders) dup, \(.inbox_messages) inbox, \(.skipped) skipped"' <<<"$line"); "
  done
  fin=$(printf '%s\n' "${done_secs[@]}" | grep -vc inf || true)
  if ((fin == RUNS)); then all="$(stats 1 "${done_secs[@]}")"; else all="not within ${TIMEOUT} s in $((RUNS - fin)) of $RUNS runs"; fi
  ROWS+=("| customerhub, $r replica(s) | $r | $(stats 0 "${rates[@]}") | $(stats 0 "${at_target[@]}") | $all | ${checks%; } |")
  dropdb --if-exists --force $RUNDB
done

# pgbench: claim one due row at a time, SKIP LOCKED, until all COUNT are claimed.
createdb $CLAIMDB
cat >"$TMP/claim.sql" <<'SQL'
UPDATE due SET next_fire_at = NULL WHERE id = (SELECT id FROM due WHERE next_fire_at <= now() ORDER BY next_fire_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id;
SQL
for r in $REPLICAS; do
  tps=(); secs=()
  for run in $(seq "$RUNS"); do
    psql -q -d $CLAIMDB -c "DROP TABLE IF EXISTS due" -c "CREATE TABLE due (id TEXT PRIMARY KEY, next_fire_at TIMESTAMPTZ)" \
      -c "INSERT INTO due SELECT gen_random_uuid()::text, now() - interval '2 days' FROM generate_series(1, $COUNT)" \
      -c "CREATE INDEX ix_due ON due (next_fire_at, id)" -c "ANALYZE due"
    # A fixed time (the claim rate is steady), so the suite stays short; 100k at ~1,300/s would take 77 s.
    out=$(pgbench -n -c "$r" -j "$r" -T "$CLAIM_SECS" -f "$TMP/claim.sql" $CLAIMDB 2>&1)
    claimed=$(psql -tAq -d $CLAIMDB -c "SELECT COUNT(*) FROM due WHERE next_fire_at IS NULL")
    t=$(awk '/^tps = / {print $3; exit}' <<<"$out")
    echo "  pgbench claim c=$r run $run: $t tps, $claimed claimed in $CLAIM_SECS s" >&2
    tps+=("$t"); secs+=("$(awk -v n="$COUNT" -v t="$t" 'BEGIN {print n / t}')")
  done
  ROWS+=("| pgbench SKIP LOCKED claim, 1 row per transaction | $r | $(stats 0 "${tps[@]}") | – | $(stats 1 "${secs[@]}") (at that rate) | each row claimed once (UPDATE … WHERE id = claimed id) |")
done

mkdir -p bench/results
{
  echo "# Scheduler: $COUNT reminder occurrences due at once (PostgreSQL)"
  echo
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM;" \
    "PostgreSQL $(psql -tAc 'SHOW server_version'); $(date -u +%F)."
  echo "$RUNS runs per row, each on a fresh copy of the seeded database; median (min–max)."
  echo "Seeded: one workspace with one admin, one customer, $COUNT one-off staff reminders (delivery: staff list only,"
  echo "receivers: admins), all due (08:00 local two days ago, unfired). Replicas: \`customerhub serve\` with"
  echo "CUSTOMERHUB_SCHEDULER_INTERVAL_SECS=$INTERVAL, started at t=0, stopped when all fired or at ${TIMEOUT} s."
  echo "\"Fired\" = a \`reminder_firings\` row with outcome \`fired\`, committed in one transaction with the admin's staff-inbox"
  echo "message (and its NOTIFY) and the reminder's \`next_fire_at\` moved on (NULL for a one-off reminder)."
  echo "Exactly once: no reminder with two firings, one inbox message per firing, no duplicate inbox message."
  echo
  echo "| what | replicas / clients | fired per second | fired at ${TARGET_SECS} s | seconds until all $COUNT fired | checks per run |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  if ((ALL_OK)); then echo "Exactly-once held in every run."; else echo "**Exactly-once check FAILED in some run.**"; fi
} >bench/results/scheduler.md
cat bench/results/scheduler.md
