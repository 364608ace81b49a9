#!/usr/bin/env bash
# Installs the Debian 12 packages hfkit builds, tests and runs with. Idempotent.
set -euo pipefail
packages=(
    cmake ninja-build g++ clang lld pkg-config git
    libcurl4-openssl-dev libopenblas-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev libssl-dev
    libffi-dev pybind11-dev python3-pybind11 python3-dev python3-pytest python3-numpy python3-venv
    python3-pip python3-setuptools python3-wheel mypy
    python3-torch   # reference forward passes written from the HF modeling code (tests/model)
    python3-jinja2  # the chat-template oracle, configured as transformers configures it
    python3-jsonschema  # the independent validator of constrained (structured) output
    libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev
    tmux curl
    libcpp-httplib-dev zlib1g-dev libbrotli-dev  # hfkit serve (cpp-httplib's pkg-config needs zlib, brotli)
    nginx  # hfkit serve replicas behind a load balancer (tests/server)
)
# Node.js (npm interop tests) and cargo (the Rust example) may come from elsewhere on a machine
# (NodeSource, rustup); install Debian's only when the command is missing.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] || packages+=(cargo)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
