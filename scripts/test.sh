#!/usr/bin/env bash
# Run every check: install what the tests need, lint the knowledge base, run the whole test suite.
source "$(dirname "$0")/_env.sh"
ensure_venv requirements-dev.txt
ensure_node_tools
.venv/bin/python -m knowledge lint
exec .venv/bin/python -m pytest -q "$@"
