# Sourced by scripts/test: a throwaway PostgreSQL cluster (Debian's
# postgresql package) in a temp dir on a free port.
#   postgres_start DIR   initdb + pg_ctl start; exports CLINOMICS_TEST_POSTGRES (a DSN)
#   postgres_stop        stops it
# As root the cluster runs as the "postgres" user (initdb refuses root).

_pg_bin() {
  local d
  d=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1)
  [[ -n $d ]] || { echo "postgres.sh: PostgreSQL not installed (apt-get install postgresql)" >&2; return 1; }
  echo "$d"
}

# free_port prints a TCP port nobody listens on.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

_pg_as() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  local dir=$1 bin port
  bin=$(_pg_bin) || return 1
  port=$(free_port)
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres: "$dir"
  chmod 700 "$dir"
  _pg_as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; return 1; }
  _PG_DIR=$dir _PG_BIN=$bin
  _pg_as "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres clinomics_test
  export CLINOMICS_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/clinomics_test?sslmode=disable"
  echo "postgres: running on port $port" >&2
}

postgres_stop() {
  [[ -n ${_PG_DIR:-} ]] || return 0
  _pg_as "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  _PG_DIR=
}
