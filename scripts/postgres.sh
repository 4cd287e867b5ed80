#!/usr/bin/env bash
# A PostgreSQL server of the project's own for the Orleans cluster (Samples/Rkde.Orleans): installs Debian's postgresql
# when it is missing, initialises a cluster in a project folder, listens on a loopback port only, and creates the
# database with Orleans' ADO.NET schema (scripts/orleans-sql: main, clustering and persistence, as Orleans publishes them).
#
#   scripts/postgres.sh start     install if needed, init once, start, create the database and schema once; prints the
#                                 connection string (the last line of output)
#   scripts/postgres.sh stop      fast shutdown (open connections are closed)
#   scripts/postgres.sh status    exit 0 when the server accepts connections
#   scripts/postgres.sh url       prints the connection string
#   scripts/postgres.sh reset     stop and delete the data folder
#
# Settings (environment): RKDE_PG_DIR (default out/postgres), RKDE_PG_PORT (default 55432), RKDE_PG_DB (default rkde).
# The server runs as the system user "postgres" (PostgreSQL refuses root); the role "rkde" logs in with a password over
# TCP on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${RKDE_PG_DIR:-$root/out/postgres}
port=${RKDE_PG_PORT:-55432}
db=${RKDE_PG_DB:-rkde}
user=rkde
password=rkde
data=$dir/data
log=$dir/server.log
sql=$root/scripts/orleans-sql

url() { echo "Host=127.0.0.1;Port=$port;Database=$db;Username=$user;Password=$password"; }

# Runs a PostgreSQL program as the postgres user (as root) or as ourselves (when not root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local pgc
  for pgc in /usr/lib/postgresql/*/bin/pg_ctl; do
    [ -x "$pgc" ] && { dirname "$pgc"; return 0; }
  done
  return 1
}

install() {
  bindir >/dev/null && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "postgres.sh: PostgreSQL is not installed and installing it needs root: run 'apt-get install postgresql' once." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends postgresql
  # The package starts its own cluster on port 5432; this project uses its own folder and port instead.
  service postgresql stop >/dev/null 2>&1 || true
}

psql_as() { PGOPTIONS="-c client_min_messages=warning" "$bin/psql" -h 127.0.0.1 -p "$port" -v ON_ERROR_STOP=1 -q "$@"; }

ready() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres; }

start() {
  install
  bin=$(bindir)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  if [ ! -s "$data/PG_VERSION" ]; then
    local pwfile
    pwfile=$(mktemp)
    echo "$password" >"$pwfile"
    chmod 644 "$pwfile"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8 >/dev/null
    rm -f "$pwfile"
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = on
max_wal_size = 128MB
min_wal_size = 32MB
EOF
  fi
  if ready 2>/dev/null; then
    if [ ! -f "$data/postmaster.pid" ]; then
      echo "postgres.sh: port $port is taken by another PostgreSQL server (not the one in $data): stop it or set RKDE_PG_PORT." >&2
      exit 1
    fi
  else
    as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
  fi
  export PGPASSWORD=$password
  if ! psql_as -U postgres -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$user'" | grep -q 1; then
    psql_as -U postgres -d postgres -c "CREATE ROLE $user LOGIN PASSWORD '$password'"
  fi
  if ! psql_as -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql_as -U postgres -d postgres -c "CREATE DATABASE $db OWNER $user"
    # Orleans' scripts, in the order they require: the query table first, then the providers' tables and queries.
    for script in PostgreSQL-Main.sql PostgreSQL-Clustering.sql PostgreSQL-Persistence.sql; do
      psql_as -U "$user" -d "$db" -f "$sql/$script" >/dev/null
    done
  fi
  url
}

stop() {
  bin=$(bindir) || return 0
  [ -s "$data/PG_VERSION" ] || return 0
  as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) bin=$(bindir) && ready ;;
  url) url ;;
  reset) stop; rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop|status|url|reset" >&2; exit 2 ;;
esac
