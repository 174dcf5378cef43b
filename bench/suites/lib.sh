# Shared by the suites (sourced from the repository root).

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# median (min–max) of the numbers given, rounded to `digits`.
stats() {
  local digits=$1; shift
  printf '%s\n' "$@" | sort -g | awk -v d="$digits" '{a[NR]=$1} END {
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
    printf "%.*f (%.*f–%.*f)", d, m, d, a[1], d, a[NR] }'
}

# The median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Builds the bench tools and the service (release); prints the release folder.
# BENCH_BIN=folder uses binaries built before instead (an A/B of two builds).
build_release() {
  if [[ -n ${BENCH_BIN:-} ]]; then
    [[ -x $BENCH_BIN/customerhub ]] || { echo "BENCH_BIN=$BENCH_BIN has no customerhub" >&2; return 1; }
    echo "$BENCH_BIN"; return
  fi
  cargo build --release -p customerhub-bench --bins >&2
  cargo build --release --bin customerhub >&2
  echo "$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
}
