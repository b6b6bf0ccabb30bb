#!/usr/bin/env bash
# Re-run of the hostile-user probes of issue 15 through the CLI, on a scratch copy of the data.
#   bash scripts/probe_reliability.sh [scratch dir]      # ~3 min on 2 cores; prints one line per probe
set -uo pipefail
cd "$(dirname "$0")/.."
J=".venv/bin/judge"
S=${1:-$(mktemp -d /tmp/probe.XXXX)}
SHARED=${JUDGE_DATA_DIR:-../shared/data}
export RAY_AUTH_MODE=disabled
export JUDGERAY_ENGINE_PLUGINS=ray_jobs.engines.fake  # the probes judge with the tests' model-free engine
mkdir -p "$S/data/autoj"
REAL="$SHARED/autoj/testdata_pairwise.jsonl"
CUT="$S/data/autoj/testdata_pairwise.jsonl"
say() { printf '%-58s %s\n' "$1" "$2"; }
judge_autoj() { $J judge --engine baseline --model longer --benchmark autoj --orders ab --root "$S/data" --out "$S/res/cut" "$@" 2>&1; }

head -n 696 "$REAL" > "$CUT"                                     # 1. Auto-J cut in half
out=$(judge_autoj); say "autoj cut in half: exit" "$? $(grep -o 'differs from its pinned source' <<<"$out" | head -1)"
out=$(judge_autoj --accept-modified-data); say "  accepted: exit, rows" "$? $(.venv/bin/python -c "import json;print(json.load(open('$S/res/cut/longer/-/autoj-test/metrics.json'))['rows'])"), $(grep -c '‡' "$S/res/cut/report.md") ‡ marks"
cp "$REAL" "$CUT"                                                # fixed afterwards
out=$(judge_autoj); say "  fixed: exit, [skip]s, rows" "$? $(grep -c '\[skip\]' <<<"$out"), $(.venv/bin/python -c "import json;print(json.load(open('$S/res/cut/longer/-/autoj-test/metrics.json'))['rows'])")"

cat > "$S/two.yaml" <<YAML                                      # 2. two sweeps 4 s apart on one folder
name: two
output_dir: $S/res
root: $SHARED
benchmarks: [pandalm, llmbar/natural]
orders: both
bootstrap: 0
judges: [{name: slow, engine: fake, batch_size: 8, options: {delay: 0.01}}]
YAML
$J sweep "$S/two.yaml" > "$S/first.log" 2>&1 & first=$!
sleep 4
$J sweep "$S/two.yaml" > "$S/second.log" 2>&1; second=$?
wait $first; say "two sweeps: first exit, second exit" "$? $second: $(grep -o 'is being written by pid [0-9]*' "$S/second.log" | head -1)"
rows=$(.venv/bin/python -c "import pyarrow.parquet as pq,glob;print(sum(pq.read_table(p).num_rows for p in glob.glob('$S/res/two/slow/label/*/parts/part-*.parquet')))")
say "  rows stored (expected 2198)" "$rows"

part=$(ls "$S/res/two/slow/label/pandalm-test/parts/"part-*.parquet | head -2 | tail -1)   # 3. a truncated part
head -c 100 "$part" > "$part.tmp" && mv "$part.tmp" "$part"; rm "$S/res/two/slow/label/pandalm-test/metrics.json"
$J sweep "$S/two.yaml" > /dev/null 2>&1; code=$?; log=$(ls -t "$S"/res/two/logs/sweep-*.log | head -1)  # the events are in the run's log
say "truncated part: exit, moved aside, judged again" "$code $(grep -c 'moved aside' "$log"), $(grep -o '[0-9]* to judge' "$log" | tail -1)"

head -n 40 "$REAL" > "$CUT"; sed -i '7s/"prompt": "/"prompt": "\xff/' "$CUT"   # 4. a non-UTF-8 line
out=$($J judge --engine baseline --model longer --benchmark autoj --orders ab --root "$S/data" --out "$S/res/bad" --accept-modified-data 2>&1)
say "non-UTF-8 line: exit" "$? $(grep -o 'line 7 (example 6): not valid UTF-8 (byte 0xff)' <<<"$out" | head -1)"
out=$($J judge --engine baseline --model longer --benchmark autoj --orders ab --root "$S/data" --out "$S/res/bad" --accept-modified-data --on-bad-record skip 2>&1)
say "  under skip: exit, note" "$? $(grep -o 'skipped 1 bad records' <<<"$out" | head -1)"

: > "$CUT"; mkdir -p "$S/data/llmbar/Natural"; printf '[]' > "$S/data/llmbar/Natural/dataset.json"   # 5. empty files
for b in autoj llmbar/natural; do
  $J judge --engine baseline --model longer --benchmark $b --root "$S/data" --out "$S/res/empty" --accept-modified-data > /dev/null 2>&1
  say "empty benchmark file ($b): exit" "$? $(grep -o "holds no records (empty)" "$S/res/empty/status.json" | head -1)"
done

python3 - "$S" <<'PY'                                             # 6. predictions files
import json, sys
s = sys.argv[1]
open(f"{s}/v.jsonl", "w").write("".join(json.dumps({"index": i, "verdict": 1.0 if i == 0 else 1}) + "\n" for i in range(100)))
open(f"{s}/nan.jsonl", "w").write("".join(('{"index": %d, "score": %s}\n' % (i, "NaN" if i == 5 else "3")) for i in range(100)))
open(f"{s}/const.jsonl", "w").write("".join(json.dumps({"index": i, "score": 3}) + "\n" for i in range(100)))
PY
out=$($J score --benchmark arena --subset train --predictions "$S/v.jsonl" 2>&1); say "verdict 1.0: exit" "$? ${out:0:110}"
out=$($J score --benchmark critiquellm-pointwise --subset reference-free --predictions "$S/nan.jsonl" 2>&1); say "score NaN: exit" "$? ${out:0:110}"
out=$($J score --benchmark critiquellm-pointwise --subset reference-free --predictions "$S/const.jsonl" --json --bootstrap 20 2>/dev/null)
say "--json with an undefined Pearson" "$(python3 -c "import json,sys; r=json.loads(sys.argv[1], parse_constant=lambda c: 1/0); print('strict JSON, pearson =', r['pearson'])" "$out" 2>&1 | tail -1)"

.venv/bin/python - <<'PY'                                                  # 7. SIGKILL of a driver
import os, subprocess, sys, tempfile, time
import psutil
t = tempfile.mkdtemp(prefix="ray")
d = subprocess.Popen([".venv/bin/python", "-c", "import time; from ray_jobs.ray_lifecycle import ensure_ray\n"
                      f"ensure_ray({{'address': 'local', 'num_cpus': 1, 'include_dashboard': False, '_temp_dir': {t!r}}})\n"
                      "print('up', flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
d.stdout.readline(); time.sleep(5)
kids = psutil.Process(d.pid).children(recursive=True)
d.kill(); d.wait()
_, alive = psutil.wait_procs(kids, timeout=30)
print(f"{'SIGKILLed driver: its processes, left after 30 s':58} {len(kids)}, {len(alive)}")
PY
echo "scratch: $S"
