#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain: a PostgreSQL server
# (initdb, pg_ctl, psql) for tests/cli_postgres.rs. Idempotent: does nothing when
# PostgreSQL is already installed. Debian/Ubuntu only; run as root (or with sudo).
set -euo pipefail

have_postgres() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null \
        && command -v psql >/dev/null
}

if have_postgres; then
    echo "install-test-deps: postgresql already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        SUDO="sudo"
    else
        echo "install-test-deps: need root (or sudo) to apt-get install postgresql" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql postgresql-client

if ! have_postgres; then
    echo "install-test-deps: postgresql was installed but initdb/pg_ctl/psql are missing" >&2
    exit 1
fi
echo "install-test-deps: postgresql installed"
