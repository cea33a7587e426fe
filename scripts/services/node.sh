# Sourced by the service scripts that run scripts/node's programs
# (azurite.sh, oidc.sh).
#   _node_modules   installs scripts/node's packages with npm ci unless
#                   node_modules already matches package-lock.json
#   _stop_pid PID   stops a service started in the background: TERM, up to
#                   5 s, then KILL
#   _NODE_DIR       scripts/node

_NODE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../node" && pwd)

_node_modules() {
  local d=$_NODE_DIR stamp want
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node.sh: Node.js and npm are needed (apt-get install nodejs npm)" >&2
    return 1
  fi
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 15) ? 0 : 1)'; then
    echo "node.sh: Node.js 20.15 or newer is needed (node-hl7-client); this is $(node --version)" >&2
    return 1
  fi
  stamp=$d/node_modules/.clinomics-lock.sha256
  want=$(sha256sum "$d/package-lock.json" | cut -d' ' -f1)
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  echo "node.sh: installing scripts/node packages (npm ci)" >&2
  (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >&2) \
    || { echo "node.sh: npm ci failed in $d" >&2; return 1; }
  echo "$want" >"$stamp"
}

_stop_pid() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
