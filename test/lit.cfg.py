# -*- Python -*- lit configuration for mu-compile.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "mu-compile"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mu_obj_root, "test")
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt", "unit", "check_reference.py", "check_pinned.py",
                   "bench", "Inputs", "corrupt_mub.py", "check_tokenizer.py"]

llvm_config.use_default_substitutions()
# Our tools first, then LLVM's (FileCheck, not, count), then the system PATH.
config.environment["PATH"] = os.pathsep.join(
    [config.mu_tools_dir, config.llvm_tools_dir, os.environ.get("PATH", "/usr/bin:/bin")])

config.substitutions.append(("%shared", config.mu_shared_dir))
config.substitutions.append(("%python", config.python3))
config.substitutions.append(("%gen", config.python3 + " " +
    os.path.join(config.mu_src_root, "tools", "mu-gen-checkpoint.py")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("%schema", os.path.join(config.mu_src_root, "include", "mu", "Artifact", "mub.fbs")))
config.substitutions.append(("%targets", os.path.join(config.mu_src_root, "targets")))

# Tests that read the real checkpoints in ../shared are skipped when it is absent.
if os.path.isdir(os.path.join(config.mu_shared_dir, "models", "stories3m")):
    config.available_features.add("shared-models")
else:
    lit_config.note("../shared/models not found: end-to-end model tests are skipped")

# mu-serve (cpp-httplib) and mu-chat (libcurl) are built when their Debian
# packages are there (tools/install-deps.sh installs both).
for tool in ("mu-serve", "mu-chat"):
    if os.path.exists(os.path.join(config.mu_tools_dir, tool)):
        config.available_features.add(tool)
    else:
        lit_config.note("%s was not built (tools/install-deps.sh): its tests are skipped" % tool)

# The checkpoint generator needs python3 with numpy (and onnx for .onnx output).
try:
    import subprocess
    subprocess.check_call([config.python3, "-c", "import numpy, onnx"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config.available_features.add("py-onnx")
except Exception:
    lit_config.note("python3 numpy/onnx not found: generator-based tests are skipped")

# ONNX Runtime (npm onnxruntime-node, installed by tools/install-npm-deps.sh
# into build/npm) for the QDQ ONNX runtime tests.
node = shutil.which("node")
ort_dir = os.path.join(config.mu_npm_dir, "node_modules", "onnxruntime-node")
if node and os.path.isdir(ort_dir):
    config.available_features.add("onnxruntime")
    config.substitutions.append(("%qdq-run", "env NODE_PATH=%s %s %s" % (
        os.path.join(config.mu_npm_dir, "node_modules"), node,
        os.path.join(config.mu_src_root, "tools", "mu-qdq-run.js"))))
else:
    lit_config.note("onnxruntime-node not found in %s (tools/install-npm-deps.sh): "
                    "QDQ ONNX runtime tests are skipped" % config.mu_npm_dir)
if node and os.path.isdir(os.path.join(config.mu_npm_dir, "node_modules", "openvino-node", "bin")):
    config.available_features.add("openvino")
else:
    lit_config.note("openvino-node not installed: OpenVINO runs of the intel-npu QDQ model are skipped")
