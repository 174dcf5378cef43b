#!/usr/bin/env bash
# E-mail delivery (issue #9): 10,000 queued notifications delivered by customerhub's
# delivery worker to a local counting SMTP sink, beside bare lettre (pooled
# AsyncSmtpTransport) sending the same number of like mails to the same sink at
# the same concurrency. Writes bench/results/mail.md.
#
# Env: RUNS (3), BACKENDS ("postgres sqlite"), CONTACTS (100), REGISTRATIONS (99):
#      CONTACTS welcome mails + REGISTRATIONS × CONTACTS "punch registered" mails are queued.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/suites/lib.sh

RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-"postgres sqlite"}
CONTACTS=${CONTACTS:-100}
# customerhub's default CUSTOMERHUB_DELIVERY_CONCURRENCY; bare lettre sends as many at once.
SENDS=${SENDS:-8}
REGISTRATIONS=${REGISTRATIONS:-99}
TOTAL=$((CONTACTS + CONTACTS * REGISTRATIONS))
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
PG="postgres://postgres@127.0.0.1:5432"

command -v psql >/dev/null || apt-get install -y postgresql-client
command -v jq >/dev/null || apt-get install -y jq
TARGET=$(build_release)

TMP=$(mktemp -d)
PIDS=()
DBS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${DBS[@]}"; do dropdb --if-exists --force "$d" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT


SMTP_PORT=$(free_port); STATS_PORT=$(free_port)
"$TARGET/mail" sink --listen 127.0.0.1:$SMTP_PORT --stats 127.0.0.1:$STATS_PORT 2>"$TMP/sink.log" &
PIDS+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$STATS_PORT) 2>/dev/null && break; sleep 0.1; done

# queue DIR URL: bootstraps, serves with workers off, queues TOTAL notifications, stops the server.
queue() {
  local dir=$1 url=$2 port http pid key
  mkdir -p "$dir"
  port=$(free_port); http=$(free_port)
  local envs=(CUSTOMERHUB_DATA_DIR="$dir" CUSTOMERHUB_DATABASE_URL="$url" CUSTOMERHUB_LISTEN=127.0.0.1:$port
    CUSTOMERHUB_HTTP_LISTEN=127.0.0.1:$http CUSTOMERHUB_RATE_LIMIT_PER_SECOND=0 CUSTOMERHUB_RUN_WORKERS=false
    CUSTOMERHUB_LOG=warn)
  key=$(env "${envs[@]}" "$TARGET/customerhub" bootstrap --workspace "Bench mail" \
    --admin-email admin@bench.example.dk 2>>"$dir/serve.log" | tail -n 1)
  env "${envs[@]}" "$TARGET/customerhub" serve >>"$dir/serve.log" 2>&1 &
  pid=$!; PIDS+=($pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  "$TARGET/mail" queue --addr "http://127.0.0.1:$port" --key "$key" --contacts "$CONTACTS" \
    --registrations "$REGISTRATIONS"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

ROWS=()
declare -A CH_RATE
LETTRE=()
LETTRE_SECS=()
LETTRE_BYTES=""
for backend in $BACKENDS; do
  rates=(); secs=(); bytes=""
  for run in $(seq "$RUNS"); do
    if [[ $backend == postgres ]]; then
      db=customerhub_bench_mail_$run
      dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
      createdb "$db"; DBS+=("$db")
      url="$PG/$db"
    else
      url="sqlite://$TMP/sqlite-$run/customerhub.db?mode=rwc"
    fi
    queue "$TMP/$backend-$run" "$url"
    line=$("$TARGET/mail" deliver --database-url "$url" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
      --stats 127.0.0.1:$STATS_PORT)
    echo "  customerhub $backend run $run: $line" >&2
    [[ $(jq -r .delivered <<<"$line") == "$TOTAL" ]] || { echo "expected $TOTAL deliveries" >&2; exit 1; }
    rates+=("$(jq -r .per_second <<<"$line")"); secs+=("$(jq -r .seconds <<<"$line")")
    bytes=$(jq -r '.avg_bytes | floor' <<<"$line")
    if [[ $backend == postgres ]]; then
      line=$("$TARGET/mail" lettre --database-url "$url" --smtp 127.0.0.1:$SMTP_PORT --stats 127.0.0.1:$STATS_PORT \
        --count "$TOTAL" --concurrency "$SENDS")
      echo "  bare lettre run $run: $line" >&2
      LETTRE+=("$(jq -r .per_second <<<"$line")"); LETTRE_SECS+=("$(jq -r .seconds <<<"$line")")
      LETTRE_BYTES=$(jq -r '.avg_bytes | floor' <<<"$line")
      dropdb --if-exists --force "$db"
    fi
  done
  CH_RATE[$backend]=$(median "${rates[@]}")
  ROWS+=("| customerhub delivery worker (1 worker, $SENDS at once) | $backend | $(stats 0 "${rates[@]}") | $(stats 2 "${secs[@]}") | $bytes |")
done
if ((${#LETTRE[@]} > 0)); then
  ROWS+=("| bare lettre, pooled transport, $SENDS at once | – | $(stats 0 "${LETTRE[@]}") | $(stats 2 "${LETTRE_SECS[@]}") | $LETTRE_BYTES |")
fi

mkdir -p bench/results
{
  echo "# E-mail delivery: $TOTAL queued notifications to a local SMTP sink"
  echo
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM;" \
    "PostgreSQL $(psql -tAc 'SHOW server_version'); $(date -u +%F)."
  echo "$RUNS runs per row, fresh database per run; median (min–max)."
  echo "Queued through the API with the worker off: $CONTACTS welcome mails + $REGISTRATIONS registrations × $CONTACTS"
  echo "contacts (\"punch registered\", e-mail) = $TOTAL outbox rows. Timed: customerhub's delivery loop"
  echo "(\`deliver_while_due\`, as \`serve\`'s worker runs it: claims and records $SENDS per statement, $SENDS sent at once"
  echo "over lettre's pooled SMTP transport from \`CUSTOMERHUB_SMTP_URL\`, more claimed behind them) from its start until the sink has"
  echo "counted all $TOTAL. Bare lettre: the same transport type built with \`builder_dangerous(..).pool_config(PoolConfig::new())\`,"
  echo "$SENDS senders at once, $TOTAL mails built from a queued \"punch registered\" row (same headers and parts)."
  echo
  echo "| sender | database | mails per second | seconds for $TOTAL | avg bytes per mail |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  if ((${#LETTRE[@]} > 0)); then
    L=$(median "${LETTRE[@]}")
    for backend in $BACKENDS; do
      awk -v a="${CH_RATE[$backend]}" -v b="$L" -v be="$backend" \
        'BEGIN {printf "customerhub on %s: %.0f %% of the bare lettre rate (target ≥ 80 %%).\n", be, 100*a/b}'
    done
  fi
} >bench/results/mail.md
cat bench/results/mail.md
