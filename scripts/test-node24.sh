#!/bin/sh
# The whole test suite on Node 24 (the current LTS), next to the default run on the machine's Node.
# The npm package `node@24` brings the binary through the registry; it goes first on PATH, so pnpm,
# turbo's tasks, vitest and every process the tests spawn run on it. --force: turbo's cache does not
# know which Node produced a result, so nothing is replayed from the other run.
set -e
node24=$(npx -y node@24 -p process.execPath)
echo "test:node24: $("$node24" --version) at $node24" >&2
PATH="$(dirname "$node24"):$PATH"
export PATH
exec node_modules/.bin/pnpm test --force "$@"
