#!/bin/sh
# Installs the npm packages of the server tests (package-lock.json, with `npm ci`) unless an
# install newer than the lock file is already there. CTest runs it as the fixture of the
# server tests, so a plain `ctest` in a tree where nobody ran `npm ci` installs them
# first instead of failing; without npm (or the registry) the fixture fails and CTest reports
# the server tests as not run, naming this step.
set -eu
cd "$(dirname "$0")"
if [ -f node_modules/openai/package.json ] &&
    [ node_modules/.package-lock.json -nt package-lock.json ]; then
    echo "npm packages already installed in $(pwd)/node_modules"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed: the server tests need it (scripts/install-deps.sh)" >&2
    exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
