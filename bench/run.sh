#!/usr/bin/env bash
# bench/run.sh [N...]: builds the benchmark and both cores' prerequisites,
# generates the streams, applies them with our core and with the official
# core (one process per core, N and format), measures the SQLite floor, and
# prints a Markdown table. See bench/README.md.
#
#   bench/run.sh                    N = 100000 1000000 (+ INCR_N)
#   bench/run.sh 10000              a quick run
#   FORMATS=bson bench/run.sh 1000000
#
# Environment (defaults in brackets):
#   FORMATS    stream formats to run ["ndjson bson"]
#   INCR_N     also run this N, for the one-row-on-N latency [500000]; empty
#              to skip
#   ROW_SIZE   bytes of row JSON [300]     BUCKETS  bucket count [10]
#   BATCH      ops per data line [1000]    ROUNDS   incremental rounds [20]
#   SEED       generator seed [1]          CACHE_KIB SQLite cache [16000]
#   OURS       our extension [build/powersync.so, built with `make`]
#   OFFICIAL   the official core [tests/differential/node_modules/
#              @powersync/node/lib/libpowersync_x64.linux.so]
#   WORK       scratch folder for streams and logs [build-bench/work]
#   DB_DIR     where the databases are created [$WORK]; /dev/shm takes the
#              disk out of the measurement (steadier, CPU-bound numbers)
#   REPEAT     runs per measurement; the run with the median ops/s is
#              reported [1]
#   KEEP_STREAMS=0 deletes the generated streams at the end [1: keep]
set -euo pipefail

cd "$(dirname "$0")/.."

FORMATS=${FORMATS-ndjson bson}
INCR_N=${INCR_N-500000}
ROW_SIZE=${ROW_SIZE:-300}
BUCKETS=${BUCKETS:-10}
BATCH=${BATCH:-1000}
ROUNDS=${ROUNDS:-20}
SEED=${SEED:-1}
CACHE_KIB=${CACHE_KIB:-16000}
OFFICIAL=${OFFICIAL:-tests/differential/node_modules/@powersync/node/lib/libpowersync_x64.linux.so}
WORK=${WORK:-build-bench/work}
KEEP_STREAMS=${KEEP_STREAMS:-1}
DB_DIR=${DB_DIR:-$WORK}
REPEAT=${REPEAT:-1}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad REPEAT" >&2; exit 2; }

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
if [ -n "$INCR_N" ]; then sizes+=("$INCR_N"); fi
mapfile -t sizes < <(printf '%s\n' "${sizes[@]}" | sort -n -u)
for n in "${sizes[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad N '$n'" >&2; exit 2; }
done

amalgamation=tests/differential/node_modules/better-sqlite3/deps/sqlite3
if [ ! -f "$amalgamation/sqlite3.c" ]; then
  echo "run.sh: $amalgamation/sqlite3.c is missing." >&2
  echo "run.sh: install the differential test modules first:" \
    "scripts/install-deps.sh" >&2
  exit 1
fi
if [ ! -f "$OFFICIAL" ]; then
  echo "run.sh: official core not found at $OFFICIAL" \
    "(scripts/install-deps.sh installs it)" >&2
  exit 1
fi

log() { echo "run.sh: $*" >&2; }

# ---- build -----------------------------------------------------------------

log "building the benchmark (build-bench/)"
cmake -S bench -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
gen=build-bench/psbench-gen
driver=build-bench/psbench-driver

ours_note=""
if [ -z "${OURS:-}" ]; then
  OURS=build/powersync.so
  log "building our core (make)"
  if ! make >"build-bench/make.log" 2>&1; then
    ours_note="\`make\` failed (see build-bench/make.log)"
    log "$ours_note; our core is reported as not available"
    OURS=""
  fi
fi

mkdir -p "$WORK" "$DB_DIR"
results="$WORK/results.txt"
: >"$results"

rm -f "$WORK"/*.log

# run SELECTOR LOGFILE CMD...: runs a driver process once (flushing the disk
# first) and appends its RESULT line to $runs (a synthetic failed one if the
# driver died without printing a result).
runs="$WORK/runs.txt"
: >"$runs"
run() {
  local label=$1 logf=$2
  shift 2
  local out line rc=0
  sync
  out=$("$@" 2>>"$logf") || rc=$?
  line=$(grep '^RESULT ' <<<"$out" || true)
  if [ -z "$line" ]; then
    line="RESULT $label status=error"
    echo "driver exited with status $rc without a result" >>"$logf"
  fi
  echo "$line" >>"$runs"
}

# reduce SELECTOR KEY: appends to $results the run of SELECTOR with the
# median KEY (ops/s), or its first failed run.
reduce() {
  local lines
  lines=$(awk -v sel="$1" '
    BEGIN { n = split(sel, want, " ") }
    { ok = 1; for (i = 1; i <= n; i++) if (index(" " $0 " ", " " want[i] " ") == 0) ok = 0
      if (ok) print }' "$runs")
  [ -n "$lines" ] || return 0
  if grep -qv ' status=ok ' <<<"$lines"; then
    grep -v ' status=ok ' <<<"$lines" | head -1 >>"$results"
    return
  fi
  local count
  count=$(wc -l <<<"$lines")
  awk -v key="$2" '{ v = $0; sub(".* " key "=", "", v); sub(" .*", "", v)
                     print v "\t" $0 }' <<<"$lines" |
    sort -n | cut -f2- | sed -n "$(((count + 1) / 2))p" >>"$results"
}

# ---- measurements ----------------------------------------------------------

# The REPEAT runs of each measurement are interleaved (official, ours, the
# floors, then again), so that a slow spell of the host does not land on one
# core's runs only.
for n in "${sizes[@]}"; do
  rounds=$ROUNDS buckets=$BUCKETS
  [ "$rounds" -le "$n" ] || rounds=$n
  [ "$buckets" -le "$n" ] || buckets=$n
  gen_args=(--rows "$n" --buckets "$buckets" --batch "$BATCH"
            --row-size "$ROW_SIZE" --rounds "$rounds" --seed "$SEED")
  args=("${gen_args[@]}" --cache-kib "$CACHE_KIB" --dir "$DB_DIR")
  for fmt in $FORMATS; do
    stream="$WORK/stream-$n-r$ROW_SIZE-b$buckets-l$BATCH-k$rounds-s$SEED.$fmt"
    if [ ! -s "$stream" ]; then
      log "generating $stream"
      "$gen" --format "$fmt" --out "$stream" "${gen_args[@]}"
    fi
  done
  for ((rep = 1; rep <= REPEAT; rep++)); do
    for fmt in $FORMATS; do
      stream="$WORK/stream-$n-r$ROW_SIZE-b$buckets-l$BATCH-k$rounds-s$SEED.$fmt"
      log "N=$n $fmt: official core (run $rep of $REPEAT)"
      run "mode=sync label=official format=$fmt rows=$n" \
        "$WORK/official-$n.$fmt.log" \
        "$driver" sync --core "$OFFICIAL" --label official --format "$fmt" \
        --input "$stream" "${args[@]}"
      if [ -n "$OURS" ]; then
        log "N=$n $fmt: our core (run $rep of $REPEAT)"
        run "mode=sync label=ours format=$fmt rows=$n" \
          "$WORK/ours-$n.$fmt.log" \
          "$driver" sync --core "$OURS" --label ours --format "$fmt" \
          --input "$stream" "${args[@]}"
      elif [ "$rep" = 1 ]; then
        echo "RESULT mode=sync label=ours format=$fmt rows=$n status=unavailable" \
          >>"$runs"
      fi
    done
    log "N=$n: SQLite floors (run $rep of $REPEAT)"
    run "mode=floor rows=$n" "$WORK/floor-$n.log" \
      "$driver" floor --core "$OFFICIAL" "${args[@]}"
    run "mode=floor-lines rows=$n" "$WORK/floor-lines-$n.log" \
      "$driver" floor --per-line --core "$OFFICIAL" "${args[@]}"
  done
  if [ "$KEEP_STREAMS" != 1 ]; then
    for fmt in $FORMATS; do
      rm -f "$WORK/stream-$n-r$ROW_SIZE-b$buckets-l$BATCH-k$rounds-s$SEED.$fmt"
    done
  fi
  for fmt in $FORMATS; do
    for label in official ours; do
      reduce "mode=sync label=$label format=$fmt rows=$n" total_ops
    done
  done
  reduce "mode=floor rows=$n" floor_ops
  reduce "mode=floor-lines rows=$n" floor_ops
done

# ---- report ----------------------------------------------------------------

# get SELECTOR KEY: the value of KEY in the first RESULT line matching every
# word of SELECTOR (e.g. "label=ours format=bson rows=1000").
get() {
  local line
  line=$(awk -v sel="$1" '
    BEGIN { n = split(sel, want, " ") }
    { ok = 1; for (i = 1; i <= n; i++) if (index(" " $0 " ", " " want[i] " ") == 0) ok = 0
      if (ok) { print; exit } }' "$results")
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$line"
}

# fmt_* VALUE: human-readable cells ("n/a" when the value is missing).
fmt_ops() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else if (v >= 1e6) printf "%.2fM", v / 1e6; else printf "%.1fk", v / 1e3 }'; }
fmt_s() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f s", v }'; }
fmt_mib() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f MiB", v / d }'; }
fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt_incr() { awk -v m="$1" -v x="$2" 'BEGIN { if (m == "") print "n/a"; else printf "%.2f / %.1f", m, x }'; }

# incr LABEL FMT N: the incremental latency cell.
incr() {
  local s
  if s=$(status_cell "$1" "$2" "$3"); then echo "$s"; return; fi
  fmt_incr "$(get "label=$1 format=$2 rows=$3" incr_median_ms)" \
    "$(get "label=$1 format=$2 rows=$3" incr_max_ms)"
}

status_cell() {
  local st
  st=$(get "label=$1 format=$2 rows=$3" status)
  case "$st" in
  ok) return 1 ;;
  unavailable) echo "n/a" ;;
  *) echo "ERROR" ;;
  esac
}

# cell LABEL FMT N KEY FORMATTER [ARG]: a formatted value, or the status.
cell() {
  local s
  if s=$(status_cell "$1" "$2" "$3"); then echo "$s"; return; fi
  "$5" "$(get "label=$1 format=$2 rows=$3" "$4")" ${6:+"$6"}
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
sqlite_version=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "$amalgamation/sqlite3.h")
{
  echo
  echo "## powersync_control benchmark"
  echo
  echo "Host: ${cpu:-unknown CPU}, $(nproc) CPUs; SQLite $sqlite_version" \
    "(better-sqlite3 amalgamation); rows of $ROW_SIZE bytes in $BUCKETS" \
    "buckets, $BATCH ops per data line; cache $CACHE_KIB KiB; WAL," \
    "synchronous=NORMAL; databases in $DB_DIR" \
    "($(df -P "$DB_DIR" | awk 'NR == 2 { print $1 }')); median of $REPEAT interleaved" \
    "run(s); $(date -u +%Y-%m-%dT%H:%MZ)."
  echo
  echo "### Speed"
  echo
  echo "| N | format | total ops/s ours | total ops/s official | total ours/official | data ops/s ours | data ops/s official | data ours/official | sync_local ours | sync_local official | floor ops/s (1 tx) | floor ops/s (tx per line) | ours/line floor | official/line floor |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for n in "${sizes[@]}"; do
    floor="" line_floor=""
    [ "$(get "mode=floor rows=$n" status)" = ok ] &&
      floor=$(get "mode=floor rows=$n" floor_ops)
    [ "$(get "mode=floor-lines rows=$n" status)" = ok ] &&
      line_floor=$(get "mode=floor-lines rows=$n" floor_ops)
    for fmt in $FORMATS; do
      total_ratio="n/a" data_ratio="n/a" ours_floor="n/a" off_floor="n/a"
      if ! status_cell ours "$fmt" "$n" >/dev/null &&
        ! status_cell official "$fmt" "$n" >/dev/null; then
        total_ratio=$(fmt_ratio "$(get "label=ours format=$fmt rows=$n" total_ops)" \
          "$(get "label=official format=$fmt rows=$n" total_ops)")
        data_ratio=$(fmt_ratio "$(get "label=ours format=$fmt rows=$n" data_ops)" \
          "$(get "label=official format=$fmt rows=$n" data_ops)")
      fi
      status_cell ours "$fmt" "$n" >/dev/null ||
        ours_floor=$(fmt_ratio "$(get "label=ours format=$fmt rows=$n" total_ops)" "$line_floor")
      status_cell official "$fmt" "$n" >/dev/null ||
        off_floor=$(fmt_ratio "$(get "label=official format=$fmt rows=$n" total_ops)" "$line_floor")
      echo "| $n | $fmt" \
        "| $(cell ours "$fmt" "$n" total_ops fmt_ops)" \
        "| $(cell official "$fmt" "$n" total_ops fmt_ops)" \
        "| $total_ratio" \
        "| $(cell ours "$fmt" "$n" data_ops fmt_ops)" \
        "| $(cell official "$fmt" "$n" data_ops fmt_ops)" \
        "| $data_ratio" \
        "| $(cell ours "$fmt" "$n" sync_local_s fmt_s)" \
        "| $(cell official "$fmt" "$n" sync_local_s fmt_s)" \
        "| $(fmt_ops "$floor") | $(fmt_ops "$line_floor")" \
        "| $ours_floor | $off_floor |"
    done
  done
  echo
  echo "total ops/s: N / (data time + sync_local time). data ops/s: N / time" \
    "of every line up to the first checkpoint_complete, each line in its own" \
    "transaction. sync_local: that checkpoint_complete (checksum validation +" \
    "sync_local). floor (1 tx): N / time to insert the same ps_oplog and" \
    "ps_data__todos rows with prepared statements in one transaction, no" \
    "parsing, no checksums. floor (tx per line): the same with ps_oplog" \
    "committed a stream line at a time, as a core that commits each line" \
    "must at least write; ours/line floor and official/line floor compare" \
    "total ops/s with it, and 1 / (official/line floor) is the best" \
    "ours/official that a core costing nothing itself could reach."
  echo
  echo "### Memory and latency"
  echo
  echo "| N | format | peak RSS ours | peak RSS official | DB size ours | DB size official | 1-row incr. ms ours (median / max) | 1-row incr. ms official (median / max) |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|"
  for n in "${sizes[@]}"; do
    for fmt in $FORMATS; do
      echo "| $n | $fmt" \
        "| $(cell ours "$fmt" "$n" rss_peak_kib fmt_mib 1024)" \
        "| $(cell official "$fmt" "$n" rss_peak_kib fmt_mib 1024)" \
        "| $(cell ours "$fmt" "$n" db_bytes fmt_mib 1048576)" \
        "| $(cell official "$fmt" "$n" db_bytes fmt_mib 1048576)" \
        "| $(incr ours "$fmt" "$n") | $(incr official "$fmt" "$n") |"
    done
  done
  echo
  echo "1-row incr.: data line + checkpoint_complete of one changed row, over" \
    "$ROUNDS rounds."
  # Messages of the driver runs, each once, with the runs that printed it.
  notes=""
  [ -z "$ours_note" ] || notes+="- ours: $ours_note"$'\n'
  notes+=$(for f in "$WORK"/official-*.log "$WORK"/ours-*.log \
    "$WORK"/floor-*.log; do
    [ -s "$f" ] || continue
    head -3 "$f" | cut -c1-400 | sed "s|^|$(basename "$f" .log)\t|"
  done | awk -F '\t' '
    !($2 in runs) { order[++n] = $2 }
    { runs[$2] = runs[$2] (runs[$2] == "" ? "" : ", ") $1 }
    END { for (i = 1; i <= n; i++) printf "- %s (%s)\n", order[i], runs[order[i]] }')
  if [ -n "$notes" ]; then
    echo
    echo "Notes:"
    echo
    printf '%s\n' "${notes%$'\n'}"
  fi
} | tee "$WORK/results.md"
log "raw results in $results, table in $WORK/results.md"
