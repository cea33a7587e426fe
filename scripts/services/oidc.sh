# Sourced by scripts/test: a real OpenID provider standing in for Entra ID
# (npm oidc-provider, pinned in scripts/node/package.json, configured by
# scripts/node/oidc-provider.mjs, which lists its clients and accounts).
#   oidc_start DIR   npm ci if needed, start it on a free port; exports
#     CLINOMICS_TEST_OIDC_ISSUER         http://127.0.0.1:PORT
#     CLINOMICS_TEST_OIDC_AUDIENCE       api://clinomics (the API's resource indicator and "aud")
#     CLINOMICS_TEST_OIDC_CLIENT_ID      clinomics-service: client credentials, app role "service"
#     CLINOMICS_TEST_OIDC_CLIENT_SECRET  the secret of every confidential client
#     CLINOMICS_TEST_OIDC_CLI_CLIENT_ID  clinomics-cli: public, device flow (clinomics login)
#     CLINOMICS_TEST_OIDC_ADMIN_TOKEN    bearer token for its /admin routes (key rotation)
#     CLINOMICS_TEST_OIDC_NODE           node, and
#     CLINOMICS_TEST_OIDC_SCRIPT         the script, for tests that start a provider of their own
#   oidc_stop        stops it
# Needs free_port (scripts/services/postgres.sh) and Node.js with npm (node.sh checks the version).

source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

_oidc_secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='; }

oidc_start() {
  local dir=$1 port node script
  _node_modules || return 1 # checks the Node.js version too
  node=$(command -v node)
  script=$_NODE_DIR/oidc-provider.mjs
  port=$(free_port)
  mkdir -p "$dir"
  export CLINOMICS_TEST_OIDC_CLIENT_SECRET=${CLINOMICS_TEST_OIDC_CLIENT_SECRET:-$(_oidc_secret)}
  export CLINOMICS_TEST_OIDC_ADMIN_TOKEN=${CLINOMICS_TEST_OIDC_ADMIN_TOKEN:-$(_oidc_secret)}
  export CLINOMICS_TEST_OIDC_AUDIENCE=api://clinomics
  OIDC_CLIENT_SECRET=$CLINOMICS_TEST_OIDC_CLIENT_SECRET OIDC_ADMIN_TOKEN=$CLINOMICS_TEST_OIDC_ADMIN_TOKEN \
    OIDC_AUDIENCE=$CLINOMICS_TEST_OIDC_AUDIENCE \
    "$node" "$script" --host 127.0.0.1 --port "$port" --state "$dir/state" >"$dir/oidc.log" 2>&1 &
  _OIDC_PID=$!
  for _ in $(seq 150); do
    if grep -q '^{"issuer":' "$dir/oidc.log" 2>/dev/null; then
      export CLINOMICS_TEST_OIDC_ISSUER=http://127.0.0.1:$port
      export CLINOMICS_TEST_OIDC_CLIENT_ID=clinomics-service
      export CLINOMICS_TEST_OIDC_CLI_CLIENT_ID=clinomics-cli
      export CLINOMICS_TEST_OIDC_NODE=$node
      export CLINOMICS_TEST_OIDC_SCRIPT=$script
      echo "oidc: provider running on port $port" >&2
      return 0
    fi
    if ! kill -0 "$_OIDC_PID" 2>/dev/null; then
      break
    fi
    sleep 0.2
  done
  echo "oidc.sh: oidc-provider did not start on port $port:" >&2
  cat "$dir/oidc.log" >&2
  oidc_stop
  return 1
}

oidc_stop() {
  _stop_pid "${_OIDC_PID:-}"
  _OIDC_PID=
}
