#!/bin/bash
# Two builds of this daemon alternated (A B B A per round) in local mode, the C client of bench/fs-bench-client.c
# against each: a fresh daemon per run, one warm-up pass, two measured passes of N files; prints the medians and the
# ratio B / A per figure. For changes whose effect is smaller than the noise between two separate runs.
#   bench/ab-daemons.sh DIR_A DIR_B [ROUNDS=3] [N=1000]     (DIR_*: checkouts with dist/ and native builds)
set -eu
A=$1; B=$2; R=${3:-3}; N=${4:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT=$(mktemp /tmp/ab-client.XXXXXX)
OUT=$(mktemp /tmp/ab-out.XXXXXX)
# the daemons mount fusectl for their guard: unmounted again at the end if it was not mounted before
FUSECTL_BEFORE=$(grep -c ' - fusectl ' /proc/self/mountinfo || true)
cc -O2 -o "$CLIENT" "$HERE/fs-bench-client.c"
run() { # checkout label
  local dir=$1 lab=$2
  local st; st=$(mktemp -d /tmp/ab-state.XXXXXX)
  mkdir -p "$st/mnt" "$st/db" "$st/run"
  node "$dir/dist/src/cli/pmxcfs.js" -f -l --mount "$st/mnt" --db "$st/db/config.db" --run-dir "$st/run" \
    --nodename pve1 --fuse native > "$st/log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do mountpoint -q "$st/mnt" && break; sleep 0.1; done
  "$CLIENT" "$st/mnt/warm" "$N" "$pid" > /dev/null
  for i in 1 2; do echo "$lab $("$CLIENT" "$st/mnt/m$i" "$N" "$pid")" >> "$OUT"; done
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$st"
}
for _ in $(seq "$R"); do run "$A" A; run "$B" B; run "$B" B; run "$A" A; done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
d = {}
for line in open(sys.argv[1]):
    lab, js = line.split(' ', 1)
    for k, v in json.loads(js).items(): d.setdefault(k, {}).setdefault(lab, []).append(v)
for k, v in d.items():
    if k == 'n': continue
    a, b = st.median(v['A']), st.median(v['B'])
    print(f"{k:16} A {a:10.1f}  B {b:10.1f}  B/A {b / a if a else 0:.3f}")
PY
rm -f "$CLIENT" "$OUT"
if [ "$FUSECTL_BEFORE" = 0 ] && [ -z "$(ls -A /sys/fs/fuse/connections 2>/dev/null)" ]; then
  umount /sys/fs/fuse/connections 2>/dev/null || true
fi
