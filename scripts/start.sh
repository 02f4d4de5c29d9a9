#!/usr/bin/env bash
# Start Lotsenbot locally: SQLite under ./data, sample knowledge base, no Azure account needed.
source "$(dirname "$0")/_env.sh"
ensure_venv requirements.txt
echo "Lotsenbot läuft gleich auf http://localhost:${PORT:-3978}/api/messages (Beenden mit Strg+C)" >&2
exec .venv/bin/python app.py
