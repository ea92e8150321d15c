#!/usr/bin/env bash
# Installs mu-compile's build and test dependencies from Debian (bookworm +
# LLVM 22 packages). Needs root or sudo. One list, used by the quickstart and CI.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build git ca-certificates \
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools \
  libprotobuf-dev protobuf-compiler libonnx-dev \
  libflatbuffers-dev flatbuffers-compiler libeigen3-dev libcli11-dev nlohmann-json3-dev \
  libgtest-dev libonnx-testdata python3 python3-numpy python3-onnx time \
  g++-aarch64-linux-gnu qemu-user file \
  clang-22 libfuzzer-22-dev libclang-rt-22-dev \
  libcurl4-openssl-dev libcpp-httplib-dev >/dev/null
echo "dependencies installed"
