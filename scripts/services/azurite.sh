# Sourced by scripts/test: Azurite, Microsoft's Azure Storage emulator (npm
# azurite, pinned in scripts/node/package.json), serving Blob Storage on a
# free port with its data in a temp dir.
#   azurite_start DIR   npm ci if needed, start azurite-blob; exports
#                       CLINOMICS_TEST_AZURITE      a connection string (Azurite's public dev account)
#                       CLINOMICS_TEST_AZURITE_DIR  its storage folder (every byte it stores)
#                       CLINOMICS_TEST_AZURITE_BIN  the azurite-blob program, for tests that start their own
#   azurite_stop        stops it
# Needs free_port (scripts/services/postgres.sh) and Node.js with npm (node.sh).

source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

azurite_start() {
  local dir=$1 port bin
  _node_modules || return 1
  bin=$_NODE_DIR/node_modules/.bin/azurite-blob
  port=$(free_port)
  mkdir -p "$dir/data"
  "$bin" --location "$dir/data" --blobHost 127.0.0.1 --blobPort "$port" \
    --skipApiVersionCheck --loose --silent --disableTelemetry >"$dir/azurite.log" 2>&1 &
  _AZURITE_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      export CLINOMICS_TEST_AZURITE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
      export CLINOMICS_TEST_AZURITE_DIR=$dir/data
      export CLINOMICS_TEST_AZURITE_BIN=$bin
      echo "azurite: running on port $port" >&2
      return 0
    fi
    if ! kill -0 "$_AZURITE_PID" 2>/dev/null; then
      break
    fi
    sleep 0.2
  done
  echo "azurite.sh: azurite-blob did not start on port $port:" >&2
  cat "$dir/azurite.log" >&2
  azurite_stop
  return 1
}

azurite_stop() {
  _stop_pid "${_AZURITE_PID:-}"
  _AZURITE_PID=
}
