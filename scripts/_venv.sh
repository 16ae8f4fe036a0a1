# Sourced by scripts/*: create the project's virtual environment and install into it.
# Usage: ensure_venv EXTRAS [extra pip args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SNOOZEBOT_VENV:-$ROOT/.venv}"

ensure_venv() {
    local extras="$1"; shift
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "snoozebot needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
        exit 2
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        "$python" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$ROOT/constraints.txt" -e "$ROOT[$extras]" "$@"
}
