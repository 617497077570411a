# Sourced by the scripts in this folder: makes .venv (Python 3.11+) with the project, every
# extra and the test tools, and reinstalls when pyproject.toml changes.
set -euo pipefail

find_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "Python 3.11 or newer is needed" >&2
    exit 1
}

ensure_venv() {
    local stamp=.venv/.installed-from
    local wanted
    wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -x .venv/bin/python ]; then
        "$(find_python)" -m venv .venv
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e '.[all,test]'
        echo "$wanted" >"$stamp"
    fi
}

# The original event-tracking 3.3.0 (same import name) in its own venv, for side-by-side benchmarks;
# extra packages can be named. Sets ORIGINAL to that venv.
ensure_original_venv() {
    ORIGINAL=.perf-venvs/original
    if [ ! -x "$ORIGINAL/bin/python" ]; then
        "$(find_python)" -m venv "$ORIGINAL"
        "$ORIGINAL/bin/python" -m pip install --quiet --upgrade pip
    fi
    "$ORIGINAL/bin/python" -m pip install --quiet 'event-tracking==3.3.0' "$@"
}
