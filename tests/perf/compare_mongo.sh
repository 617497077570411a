#!/usr/bin/env bash
# Side by side: bench_mongo.py under this project and under the original event-tracking 3.3.0
# (both import as `eventtracking`, so the original gets its own venv in .perf-venvs/original),
# against one nx-27017 started here. Arguments go to bench_mongo.py (--events N, --repeat R).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/venv.sh
ensure_venv
ensure_original_venv pymongo nx-27017

workdir="$(mktemp -d)"
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.venv/bin/nx-27017 --host 127.0.0.1 --port "$port" --db memory \
    --pid-file "$workdir/nx.pid" --log-file "$workdir/nx.log" >"$workdir/nx.out" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$workdir"' EXIT
uri="mongodb://127.0.0.1:$port/"
.venv/bin/python -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=20000).admin.command("ping")' "$uri"

theirs="$("$ORIGINAL/bin/python" tests/perf/bench_mongo.py --json --uri "$uri" "$@")"
ours="$(.venv/bin/python tests/perf/bench_mongo.py --json --uri "$uri" "$@")"
.venv/bin/python - "$ours" "$theirs" <<'PY'
import json
import sys

ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
(original,) = theirs.values()
for name, figure in {**theirs, **ours}.items():
    rate = figure["events_per_second"]
    print(f"{rate:9.0f} events/s  {rate / original['events_per_second']:5.2f}x original  {name}")
PY
