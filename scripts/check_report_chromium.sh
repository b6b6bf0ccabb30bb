#!/usr/bin/env bash
# Render a sweep report in headless Chromium (Debian's `chromium`) and check what it drew.
#   bash scripts/check_report_chromium.sh results/quickstart-cpu
# 1. Measures the page's height at 1280 px, then screenshots ALL of it: report-1.png, report-2.png, ...
#    (at most 8,000 px each; Chromium's screenshots stop working well beyond that), beside report.html.
# 2. Checks the rendered DOM: the summary table, and at least one plot of each kind the report holds
#    (bars, position bias, cost, reliability), and that a click on the summary's "mean rank" header
#    sorts its judges by mean rank (the report's one inline script).
# Fails with a reason unless all of it holds. Needs: apt-get install chromium.
set -euo pipefail
dir=${1:?usage: check_report_chromium.sh RESULTS_DIR}
html=$(realpath "$dir/report.html")
out=$(dirname "$html")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --window-size=1280,900)
chrome() { timeout 60 chromium "${flags[@]}" "$@" 2>/dev/null; }

# a copy of the page that records its height, its plots and the effect of sorting in the DOM it dumps
probe='<script>window.addEventListener("load",function(){var b=document.body,t=document.querySelector("table.sortable");
b.dataset.height=document.documentElement.scrollHeight;
b.dataset.plots=Array.prototype.map.call(document.querySelectorAll("svg[data-plot]"),function(s){
  return s.dataset.plot+":"+(s.getBoundingClientRect().width>0?"drawn":"hidden")}).join(",");
if(t){var i=Array.prototype.findIndex.call(t.rows[0].cells,function(c){return c.textContent==="mean rank"});
  t.rows[0].cells[i].click();t.rows[0].cells[i].click();
  b.dataset.sorted=Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.className?"ref":r.cells[i].textContent}).join("|");}
});</script>'
inject() { python3 -c 'import sys; p = open(sys.argv[1]).read(); sys.stdout.write(p.replace(sys.argv[2], sys.argv[3] + sys.argv[2], 1))' "$@"; }
inject "$html" "</body>" "$probe" > "$tmp/probe.html"
dom=$(chrome --virtual-time-budget=5000 --dump-dom "file://$tmp/probe.html")
height=$(grep -o 'data-height="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || true)
[ -n "$height" ] || { echo "chromium did not render the page"; exit 1; }

rm -f "$out"/report-*.png
page=8000 shots=0
for ((top = 0; top < height; top += page)); do
  shots=$((shots + 1))
  h=$(( height - top < page ? height - top : page ))
  inject "$html" "</head>" "<style>html{overflow:hidden}body{position:relative;top:-${top}px}</style>" > "$tmp/shot.html"
  chrome --window-size=1280,"$h" --screenshot="$out/report-$shots.png" "file://$tmp/shot.html"
  [ -s "$out/report-$shots.png" ] || { echo "screenshot $shots failed"; exit 1; }
done

python3 - "$dom" "$height" "$shots" "$out" <<'EOF'
import re, sys
dom, height, shots, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def attr(name):
    m = re.search(rf'data-{name}="([^"]*)"', dom)
    return m.group(1) if m else ""
plots = [p.split(":") for p in attr("plots").split(",") if p]
kinds = sorted({k for k, _ in plots})
hidden = [k for k, state in plots if state != "drawn"]
sorted_ranks = [float(v) for v in attr("sorted").split("|") if v not in ("ref", "-", "")]
problems = []
if "<h2>Summary</h2>" not in dom:
    problems.append("no summary")
if not plots or hidden:
    problems.append(f"plots not drawn: {hidden or 'none at all'}")
if sorted_ranks != sorted(sorted_ranks):
    problems.append(f"the summary did not sort by mean rank: {sorted_ranks}")
print(f"rendered: {dom.count('<table')} tables, {len(plots)} plots ({', '.join(kinds)}), summary sorted by mean rank "
      f"{'yes' if sorted_ranks == sorted(sorted_ranks) else 'no'}; {height} px tall in {shots} screenshot(s): "
      f"{out}/report-1.png .. report-{shots}.png")
if problems:
    print("FAILED: " + "; ".join(problems))
    sys.exit(1)
EOF
