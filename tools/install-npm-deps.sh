#!/usr/bin/env bash
# Installs the npm packages the QDQ ONNX runtime tests drive into DIR
# (default build/npm): onnxruntime-node 1.30.0 (its bundled
# libonnxruntime.so.1; ONNXRUNTIME_NODE_INSTALL=skip: no GPU download) and
# openvino-node (its install script downloads the OpenVINO runtime from
# storage.openvinotoolkit.org; where that host is unreachable the package is
# reported missing and the OpenVINO tests skip). Without npm: nothing, and
# the tests that need these skip with a message.
set -uo pipefail
DIR=${1:-build/npm}
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "install-npm-deps: node/npm not found: ONNX Runtime and OpenVINO tests will be skipped"
  exit 0
fi
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name": "mu-compile-test-runtimes", "private": true}' > package.json
if [ -d node_modules/onnxruntime-node ]; then
  echo "install-npm-deps: onnxruntime-node present"
elif ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent onnxruntime-node@1.30.0; then
  echo "install-npm-deps: onnxruntime-node 1.30.0 installed in $DIR"
else
  echo "install-npm-deps: onnxruntime-node could not be installed: its tests will be skipped"
fi
if [ -d node_modules/openvino-node/bin ]; then
  echo "install-npm-deps: openvino-node present"
elif timeout 300 npm install --no-audit --no-fund --silent openvino-node >/dev/null 2>&1; then
  echo "install-npm-deps: openvino-node installed in $DIR"
else
  npm uninstall --silent openvino-node >/dev/null 2>&1
  echo "install-npm-deps: openvino-node could not be installed (its runtime download failed): OpenVINO tests will be skipped"
fi
exit 0
