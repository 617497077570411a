#!/usr/bin/env bash
# Side by side: bench_emit.py under this project and under the original event-tracking 3.3.0
# (both import as `eventtracking`, so the original gets its own venv in .perf-venvs/original).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/venv.sh
ensure_venv
ensure_original_venv
ours="$(.venv/bin/python tests/perf/bench_emit.py --json "$@")"
theirs="$("$ORIGINAL/bin/python" tests/perf/bench_emit.py --json "$@")"
.venv/bin/python - "$ours" "$theirs" <<'PY'
import json
import sys

ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
(original,) = theirs.values()
for name, micros in {**theirs, **ours}.items():
    print(f"{micros:8.2f} us/emit  {micros / original:5.2f}x original  {name}")
PY
