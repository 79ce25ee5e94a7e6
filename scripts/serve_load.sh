#!/usr/bin/env bash
# Load test of harmonium serve on the loopback with wrk: trains (once) an
# item-based ML-100K model with 100 hidden units on u1.base, starts the
# server on a fresh database, then runs
#   1. GET /v1/recommend/{user}?n=10 for random known users, DURATION seconds;
#   2. the same with 10% POST /v1/ratings mixed in, DURATION seconds;
# and checks that no response was an error and that every acknowledged
# rating is in the database. Prints throughput and p50/p90/p99 latency as
# wrk measured them, and the server's own latency histogram.
#
#   scripts/serve_load.sh [DURATION] [CONNECTIONS]    # defaults 10 s, 16
#
# Environment: ML100K (folder of u1.base, u.item; ../shared/data/ml-100k),
# WORK (where the binary, model and database go; /tmp/serve_load).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-16}
ML100K=${ML100K:-../shared/data/ml-100k}
WORK=${WORK:-/tmp/serve_load}
PORT=${PORT:-18181}
mkdir -p "$WORK"

if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get)" >&2
  (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
command -v sqlite3 >/dev/null || (apt-get install -y sqlite3 >/dev/null)

go build -o "$WORK/harmonium" ./cmd/harmonium
BIN=$WORK/harmonium
MODEL=$WORK/ml100k-item.safetensors
if [ ! -f "$MODEL" ]; then
  echo "training the item-based model (100 hidden units) on $ML100K/u1.base" >&2
  "$BIN" cf train --ratings "$ML100K/u1.base" --hidden 100 --out "$MODEL" --quiet
fi
cut -f1 "$ML100K/u1.base" | sort -un > "$WORK/users.txt"

DB=$WORK/load.db
rm -f "$DB" "$DB-wal" "$DB-shm"
"$BIN" serve --model ml="$MODEL" --items "$ML100K/u.item" --db "$DB" --addr "127.0.0.1:$PORT" \
  2> "$WORK/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; flags: $(grep -o 'avx[^ ]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # name post_percent
  USERS_FILE=$WORK/users.txt POST_PERCENT=$2 wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
    -s scripts/serve_load.lua "http://127.0.0.1:$PORT" | tail -1 > "$WORK/$1.json"
  echo "$1: $(cat "$WORK/$1.json")"
}
run recommend 0
run mixed 10

kill -TERM $SERVER
wait $SERVER || true
trap - EXIT
grep -q "shut down cleanly" "$WORK/serve.log" || { echo "FAIL: no clean shutdown" >&2; exit 1; }

fail=0
for f in recommend mixed; do
  if ! grep -q '"non200":0,"socket_errors":0' "$WORK/$f.json"; then
    echo "FAIL: $f: error responses" >&2; fail=1
  fi
done
sent=$(sed 's/.*"posts_sent":\([0-9]*\).*/\1/' "$WORK/mixed.json")
acked=$(sed 's/.*"posts_acked":\([0-9]*\).*/\1/' "$WORK/mixed.json")
rows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM ratings WHERE user_id LIKE 'load-%'")
# Every POST is a new (user, item) pair: every acknowledged one must be a
# row; rows beyond them were in flight when wrk stopped.
echo "ratings: $sent posted, $acked acknowledged, $rows in the database"
if [ "$rows" -lt "$acked" ] || [ "$rows" -gt "$sent" ]; then
  echo "FAIL: acknowledged ratings missing from the database" >&2; fail=1
fi
bad=$(sqlite3 "$DB" "SELECT COUNT(*) FROM ratings WHERE user_id LIKE 'load-%' AND rating <> 1 + (CAST(substr(user_id, instr(substr(user_id, 6), '-') + 6) AS INTEGER) % 5)")
if [ "$bad" != 0 ]; then echo "FAIL: $bad stored ratings differ from those posted" >&2; fail=1; fi
exit $fail
