#!/usr/bin/env bash
# Write path (issue #9): concurrent PunchCardService/RegisterPunch calls on SQLite
# and PostgreSQL, beside pgbench single-row inserts and SeaORM single-row inserts
# at the same concurrency. Writes bench/results/writes.md.
#
# Env: RUNS (3), DURATION seconds per run (5), WARMUP seconds (1),
#      CONCURRENCY ("1 8 32"), CARDS customers/cards (64), SINGLE_CARD_C (32; "" to skip).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/suites/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONCURRENCY=${CONCURRENCY:-"1 8 32"}
CARDS=${CARDS:-64}
SINGLE_CARD_C=${SINGLE_CARD_C-32}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
PG="postgres://postgres@127.0.0.1:5432"
DB_SERVICE=customerhub_bench_writes
DB_PGBENCH=customerhub_bench_writes_pgbench
DB_SEAORM=customerhub_bench_writes_seaorm

command -v pgbench >/dev/null || apt-get install -y postgresql-contrib
command -v jq >/dev/null || apt-get install -y jq
TARGET=$(build_release)

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in $DB_SERVICE $DB_PGBENCH $DB_SEAORM; do dropdb --if-exists --force "$d" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT



# start_server NAME [DATABASE_URL]: bootstraps and serves; sets ADDR and KEY.
start_server() {
  local name=$1 url=${2:-} dir="$TMP/$1" port http
  mkdir -p "$dir"
  port=$(free_port); http=$(free_port)
  local envs=(CUSTOMERHUB_DATA_DIR="$dir" CUSTOMERHUB_LISTEN=127.0.0.1:$port CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$http
    CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0 CUSTOMERHUB_RUN_WORKERS=false CUSTOMERHUB_LOG=warn)
  [[ -n $url ]] && envs+=(CUSTOMERHUB_DATABASE_URL="$url")
  KEY=$(env "${envs[@]}" "$TARGET/customerhub" bootstrap --workspace "Bench $name" \
    --admin-email admin@bench.example.dk 2>>"$dir/serve.log" | tail -n 1)
  env "${envs[@]}" "$TARGET/customerhub" serve >>"$dir/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$http/healthz" >/dev/null || { cat "$dir/serve.log"; exit 1; }
  ADDR=http://127.0.0.1:$port
}

for d in $DB_SERVICE $DB_PGBENCH $DB_SEAORM; do dropdb --if-exists --force "$d" >/dev/null 2>&1 || true; createdb "$d"; done
psql -q -d $DB_PGBENCH -c "CREATE TABLE registrations (id BIGSERIAL PRIMARY KEY, card_id TEXT NOT NULL,
  description TEXT NOT NULL, amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
cat >"$TMP/insert.sql" <<'SQL'
INSERT INTO registrations (card_id, description, amount) VALUES ('0190c6f2-0000-7000-8000-000000000001', 'Vinduespudsning, alle sider', 1);
SQL

start_server postgres "$PG/$DB_SERVICE"; PG_ADDR=$ADDR; PG_KEY=$KEY
"$TARGET/writes" setup --addr "$PG_ADDR" --key "$PG_KEY" --cards "$CARDS" --out "$TMP/pg-cards"
start_server sqlite; SQ_ADDR=$ADDR; SQ_KEY=$KEY
"$TARGET/writes" setup --addr "$SQ_ADDR" --key "$SQ_KEY" --cards "$CARDS" --out "$TMP/sqlite-cards"

ROWS=()
ERRORS_SEEN=0
# measure LABEL BACKEND C PGBENCH_MEDIAN -- command...: runs RUNS times, appends a table row.
measure() {
  local label=$1 backend=$2 c=$3 ceiling=$4; shift 5
  local rates=() p50s=() p99s=() errs=0 line first=""
  for run in $(seq "$RUNS"); do
    line=$("$@")
    echo "  $label $backend c=$c run $run: $line" >&2
    rates+=("$(jq -r .per_second <<<"$line")")
    p50s+=("$(jq -r .p50_ms <<<"$line")")
    p99s+=("$(jq -r .p99_ms <<<"$line")")
    errs=$((errs + $(jq -r .errors <<<"$line")))
    [[ -z $first ]] && first=$(jq -r '.first_error // empty' <<<"$line")
  done
  local pct="–"
  if [[ -n $ceiling ]]; then pct=$(awk -v a="$(median "${rates[@]}")" -v b="$ceiling" 'BEGIN {printf "%.0f %%", 100*a/b}'); fi
  ((errs > 0)) && ERRORS_SEEN=1
  ROWS+=("| $label | $backend | $c | $(stats 0 "${rates[@]}") | $(median "${p50s[@]}") | $(median "${p99s[@]}") | $errs${first:+ ($first)} | $pct |")
}

for c in $CONCURRENCY; do
  # pgbench: the PostgreSQL ceiling.
  tps=()
  for run in $(seq "$RUNS"); do
    out=$(pgbench -n -c "$c" -j "$c" -T "$DURATION" -f "$TMP/insert.sql" $DB_PGBENCH 2>&1)
    t=$(awk '/^tps = / {print $3; exit}' <<<"$out")
    echo "  pgbench c=$c run $run: $t tps" >&2
    tps+=("$t")
  done
  PGB=$(median "${tps[@]}")
  ROWS+=("| pgbench single-row INSERT | postgres | $c | $(stats 0 "${tps[@]}") | – | – | 0 | 100 % |")
  measure "SeaORM single-row insert (pool 10)" postgres "$c" "$PGB" -- \
    "$TARGET/writes" seaorm --database-url "$PG/$DB_SEAORM" --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP"
  measure "customerhub RegisterPunch ($CARDS cards)" postgres "$c" "$PGB" -- \
    "$TARGET/writes" grpc --addr "$PG_ADDR" --key "$PG_KEY" --cards-file "$TMP/pg-cards" \
    --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP"
  measure "SeaORM single-row insert (1 connection)" sqlite "$c" "" -- \
    "$TARGET/writes" seaorm --database-url "sqlite://$TMP/seaorm.db?mode=rwc" --concurrency "$c" \
    --duration "$DURATION" --warmup "$WARMUP"
  measure "customerhub RegisterPunch ($CARDS cards)" sqlite "$c" "" -- \
    "$TARGET/writes" grpc --addr "$SQ_ADDR" --key "$SQ_KEY" --cards-file "$TMP/sqlite-cards" \
    --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP"
  [[ $c == "$SINGLE_CARD_C" ]] && PGB_SINGLE=$PGB
done
if [[ -n $SINGLE_CARD_C ]]; then
  measure "customerhub RegisterPunch (1 card)" postgres "$SINGLE_CARD_C" "${PGB_SINGLE:-}" -- \
    "$TARGET/writes" grpc --addr "$PG_ADDR" --key "$PG_KEY" --cards-file "$TMP/pg-cards" --use-cards 1 \
    --concurrency "$SINGLE_CARD_C" --duration "$DURATION" --warmup "$WARMUP"
  measure "customerhub RegisterPunch (1 card)" sqlite "$SINGLE_CARD_C" "" -- \
    "$TARGET/writes" grpc --addr "$SQ_ADDR" --key "$SQ_KEY" --cards-file "$TMP/sqlite-cards" --use-cards 1 \
    --concurrency "$SINGLE_CARD_C" --duration "$DURATION" --warmup "$WARMUP"
fi

mkdir -p bench/results
{
  echo "# Write path: RegisterPunch"
  echo
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM;" \
    "PostgreSQL $(psql -tAc 'SHOW server_version'); $(date -u +%F)."
  echo "$RUNS runs of ${DURATION} s each (after ${WARMUP} s warm-up) per row; median (min–max). Latencies: median of the runs' p50/p99."
  echo "customerhub: one \`serve\` process, default pool (10 connections on PostgreSQL, 1 on SQLite), rate limit off,"
  echo "delivery worker off (each registration writes its outbox row; nothing is sent). \"punch registered\" is on by e-mail,"
  echo "each card's customer has one HUB contact with the welcome mail sent, so every call: locks the card, inserts the"
  echo "registration, checks thresholds, renders and inserts one outbox row. Client i punches card i mod cards."
  echo "pgbench: \`pgbench -n -c C -j C -T ${DURATION} -f insert.sql\`, one INSERT into a one-table scratch database (C connections)."
  echo
  echo "| what | database | concurrency | per second | p50 ms | p99 ms | errors | % of pgbench |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} >bench/results/writes.md
cat bench/results/writes.md
((ERRORS_SEEN == 0)) || echo "WARNING: some calls failed; see the errors column" >&2
