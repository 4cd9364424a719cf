#!/usr/bin/env bash
# Installs what tests/interop.rs needs beyond the Rust toolchain, from the npm and PyPI
# registries: mqtt.js (pinned by tests/interop/package-lock.json) and scramp (pinned by
# tests/interop/requirements.txt). Needs `node` (>= 18) with `npm`, and `python3` with pip.
# Idempotent: skips each step whose pinned version is already installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP="$ROOT/tests/interop"
PYTHON="${PYTHON:-python3}"

for tool in node npm "$PYTHON"; do
    if ! command -v "$tool" >/dev/null; then
        echo "install-interop-deps: '$tool' not found; install Node.js (>= 18) and Python 3 first" >&2
        exit 1
    fi
done

want_mqtt="$(node -p "require('$INTEROP/package.json').dependencies.mqtt")"
have_mqtt="$(node -p "try { require('$INTEROP/node_modules/mqtt/package.json').version } catch (e) { '' }")"
if [ "$have_mqtt" = "$want_mqtt" ]; then
    echo "install-interop-deps: mqtt $have_mqtt already installed"
else
    (cd "$INTEROP" && npm ci --no-audit --no-fund)
    echo "install-interop-deps: mqtt installed"
fi

want_scramp="$(sed -n 's/^scramp==//p' "$INTEROP/requirements.txt")"
have_scramp="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("scramp"))' 2>/dev/null || true)"
if [ -n "$want_scramp" ] && [ "$have_scramp" = "$want_scramp" ]; then
    echo "install-interop-deps: scramp $have_scramp already installed"
else
    PIP_ARGS=(install --disable-pip-version-check -r "$INTEROP/requirements.txt")
    # Debian/Ubuntu system Pythons refuse global installs (PEP 668) unless told otherwise.
    if ! "$PYTHON" -m pip "${PIP_ARGS[@]}"; then
        "$PYTHON" -m pip "${PIP_ARGS[@]}" --user --break-system-packages
    fi
    echo "install-interop-deps: scramp installed"
fi
