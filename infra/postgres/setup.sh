#!/usr/bin/env bash
# Installs (Debian package), starts, and provisions a local PostgreSQL for tests and `make up`.
# Idempotent: a second run only makes sure the server is up. Needs root (CI and dev machines).
set -euo pipefail

PG_USER=${PG_USER:-cairn}
PG_PASSWORD=${PG_PASSWORD:-cairn}
PG_DB=${PG_DB:-cairn}
PG_TEST_DB=${PG_TEST_DB:-cairn_test}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian's packages..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | grep "^$version main" | grep -q online; then
  pg_ctlcluster "$version" main start
fi

psql_as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAX $*"; }
for i in $(seq 1 30); do
  psql_as_postgres "-c 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
if [ "$(psql_as_postgres "-c \"select 1 from pg_roles where rolname='$PG_USER'\"")" != "1" ]; then
  psql_as_postgres "-c \"create role $PG_USER login createdb password '$PG_PASSWORD'\""
fi
# Tests drop each per-test database WITH (FORCE). PostgreSQL checks the right to terminate
# every backend on it, and an autovacuum worker (owned by no role) counts: without this grant
# the drop fails at random with "must be a member of the role whose process is being
# terminated or member of pg_signal_backend". Idempotent.
psql_as_postgres "-c \"grant pg_signal_backend to $PG_USER\"" >/dev/null
for db in "$PG_DB" "$PG_TEST_DB"; do
  if [ "$(psql_as_postgres "-c \"select 1 from pg_database where datname='$db'\"")" != "1" ]; then
    psql_as_postgres "-c \"create database $db owner $PG_USER\""
  fi
done
echo "PostgreSQL $version is up: postgresql+asyncpg://$PG_USER:***@127.0.0.1:5432/$PG_DB (test db: $PG_TEST_DB)"
