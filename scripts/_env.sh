# Shared by start.sh and test.sh: a Python 3.11 virtualenv in .venv with the given requirements.
# Reinstalls only when a requirements file changed (hash stamp), so repeated runs start fast.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Lotsenbot braucht Python 3.11 (gefunden: $(python3 --version 2>&1)). Setzen Sie PYTHON=/pfad/zu/python3.11." >&2
  return 1
}

ensure_venv() {  # $1: requirements file
  local req="$1" stamp=".venv/.installed-$(basename "$1")"
  local want
  want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installiere Python-Pakete aus $req ..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
  fi
}

ensure_node_tools() {  # the Cosmos DB protocol server the storage tests talk to
  command -v npm >/dev/null 2>&1 || { echo "npm fehlt: Node.js 20 installieren." >&2; return 1; }
  local want stamp=node_modules/.installed-lock
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installiere Node-Werkzeuge (npm ci) ..." >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" > "$stamp"
  fi
}
