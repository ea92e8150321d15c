//===- OnnxConformance.cpp - ONNX backend node tests through mu -----------===//
///
/// \file
/// For every ONNX backend node test (Debian's libonnx-testdata): import the
/// model, fuse, compile to a .mub artifact, run it with libmu_runtime on each
/// shipped test_data_set and compare with the reference outputs
/// (rtol 1e-3, atol 1e-5 for floats; exact for integers and bools).
///
/// Tests whose model does not import or compile are listed as "not
/// attempted" with the reason (an unsupported op type, dtype or attribute);
/// they are counted, not hidden. Exit status is non-zero iff an attempted
/// test fails. Output ends with "N passed, N failed".
///
//===----------------------------------------------------------------------===//
#include "dialects/Mu/MuOps.h"
#include "mu/Artifact/MubWriter.h"
#include "mu/Import/Import.h"
#include "mu/runtime/Runtime.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

using namespace mlir;
namespace rt = mu::rt;

namespace {

bool readTensor(const std::string &path, rt::HostTensor &out, std::string &err) {
  auto buf = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buf) {
    err = "cannot read " + path;
    return false;
  }
  onnx::TensorProto t;
  if (!t.ParseFromArray((*buf)->getBufferStart(), int((*buf)->getBufferSize()))) {
    err = "bad TensorProto " + path;
    return false;
  }
  rt::DType dt;
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT: dt = rt::DType::F32; break;
  case onnx::TensorProto::FLOAT16: dt = rt::DType::F16; break;
  case onnx::TensorProto::INT64: dt = rt::DType::I64; break;
  case onnx::TensorProto::INT32: dt = rt::DType::I32; break;
  case onnx::TensorProto::INT16: dt = rt::DType::I16; break;
  case onnx::TensorProto::INT8: dt = rt::DType::I8; break;
  case onnx::TensorProto::UINT8: dt = rt::DType::U8; break;
  case onnx::TensorProto::BOOL: dt = rt::DType::Bool; break;
  default:
    err = "tensor data type " + std::to_string(t.data_type()) + " not supported by the runtime";
    return false;
  }
  std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
  out = rt::HostTensor::make(dt, shape);
  size_t want = out.storage.size();
  if (t.has_raw_data()) {
    if (t.raw_data().size() != want) {
      err = "size mismatch in " + path;
      return false;
    }
    std::memcpy(out.storage.data(), t.raw_data().data(), want);
    return true;
  }
  int64_t n = out.ref().numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (dt) {
    case rt::DType::F32: out.as<float>()[i] = t.float_data(i); break;
    case rt::DType::I64: out.as<int64_t>()[i] = t.int64_data(i); break;
    case rt::DType::I32: out.as<int32_t>()[i] = t.int32_data(i); break;
    default: {
      int32_t v = t.int32_data(i);
      std::memcpy(out.storage.data() + i * rt::dtypeSize(dt), &v, rt::dtypeSize(dt));
    }
    }
  }
  return true;
}

double loadD(const rt::HostTensor &t, int64_t i) {
  switch (t.dtype) {
  case rt::DType::F32: return t.as<float>()[i];
  case rt::DType::I64: return double(t.as<int64_t>()[i]);
  case rt::DType::I32: return t.as<int32_t>()[i];
  case rt::DType::I16: return reinterpret_cast<const int16_t *>(t.storage.data())[i];
  case rt::DType::I8: return reinterpret_cast<const int8_t *>(t.storage.data())[i];
  default: return t.storage[i];
  }
}

/// Compares outputs; returns "" when they agree.
std::string compare(const rt::HostTensor &got, const rt::HostTensor &want) {
  if (got.dtype != want.dtype)
    return std::string("dtype ") + rt::dtypeName(got.dtype) + " vs expected " + rt::dtypeName(want.dtype);
  if (got.shape != want.shape) {
    std::string g, w;
    for (int64_t d : got.shape) g += std::to_string(d) + ",";
    for (int64_t d : want.shape) w += std::to_string(d) + ",";
    return "shape [" + g + "] vs expected [" + w + "]";
  }
  rt::HostTensor gc = got;
  int64_t n = gc.ref().numel();
  bool isFloat = got.dtype == rt::DType::F32;
  for (int64_t i = 0; i < n; ++i) {
    double a = loadD(got, i), b = loadD(want, i);
    bool ok = isFloat ? ((std::isnan(a) && std::isnan(b)) || a == b ||
                         std::fabs(a - b) <= 1e-5 + 1e-3 * std::fabs(b))
                      : a == b;
    if (!ok)
      return "element " + std::to_string(i) + ": " + std::to_string(a) + " vs expected " +
             std::to_string(b);
  }
  return "";
}

struct Result {
  std::string name, status, detail;
};

} // namespace

int main(int argc, char **argv) {
  std::string root = argc > 1 ? argv[1] : "/usr/share/libonnx-testdata/data/node";
  std::string filter = argc > 2 ? argv[2] : "";
  if (!llvm::sys::fs::is_directory(root)) {
    std::printf("ONNX node tests not found at %s (Debian package libonnx-testdata): skipped\n",
                root.c_str());
    return 77;
  }
  std::vector<std::string> dirs;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(root, ec), end; it != end && !ec; it.increment(ec))
    if (llvm::sys::fs::exists(it->path() + "/model.onnx") &&
        (filter.empty() || llvm::StringRef(it->path()).contains(filter)))
      dirs.push_back(it->path());
  llvm::sort(dirs);

  DialectRegistry registry;
  registry.insert<mu::MuDialect, func::FuncDialect>();
  std::vector<Result> results;
  std::map<std::string, int> skipReasons;
  int passed = 0, failures = 0, skipped = 0;
  std::string tmp = llvm::sys::path::filename(argv[0]).str() + ".tmp.mub";
  for (const std::string &dir : dirs) {
    Result r;
    r.name = llvm::sys::path::filename(dir).str();
    MLIRContext ctx(registry);
    ctx.loadAllAvailableDialects();
    std::string err, diag;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      llvm::raw_string_ostream(diag) << d.str() << "; ";
      return success();
    });
    auto module = mu::importOnnx(ctx, dir + "/model.onnx", err);
    std::vector<uint8_t> bytes;
    if (module) {
      PassManager pm(&ctx);
      mu::buildFuseTransformerPipeline(pm);
      if (mlir::failed(pm.run(*module)))
        err = "fusion pipeline failed: " + diag;
      else {
        mu::MubOptions opts;
        opts.maxSeq = 64;
        if (!mu::buildMub(*module, opts, bytes, err))
          err = "compile: " + err;
      }
    }
    if (!err.empty()) {
      // Not attempted: import/compile limitation. Keep the reason short.
      std::string reason = err.substr(err.find(": ") == std::string::npos ? 0 : err.find(": ") + 2);
      if (reason.rfind("unsupported ONNX operators", 0) == 0)
        reason = "unsupported op: " + reason.substr(reason.find("): ") + 3);
      r.status = "not attempted";
      r.detail = reason.substr(0, 160);
      ++skipped;
      results.push_back(r);
      continue;
    }
    {
      std::ofstream f(tmp, std::ios::binary);
      f.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    }
    rt::Status st;
    auto model = rt::Model::load(tmp, st);
    if (!model) {
      r.status = "FAIL";
      r.detail = "load: " + st.message;
      ++failures;
      results.push_back(r);
      continue;
    }
    rt::Session session(*model);
    bool ok = true;
    int sets = 0;
    for (int k = 0; ok; ++k) {
      std::string set = dir + "/test_data_set_" + std::to_string(k);
      if (!llvm::sys::fs::is_directory(set))
        break;
      ++sets;
      std::vector<rt::HostTensor> inputs, outputs, expected;
      for (int i = 0; llvm::sys::fs::exists(set + "/input_" + std::to_string(i) + ".pb"); ++i) {
        inputs.emplace_back();
        if (!readTensor(set + "/input_" + std::to_string(i) + ".pb", inputs.back(), err))
          break;
      }
      for (int i = 0; err.empty() && llvm::sys::fs::exists(set + "/output_" + std::to_string(i) + ".pb"); ++i) {
        expected.emplace_back();
        readTensor(set + "/output_" + std::to_string(i) + ".pb", expected.back(), err);
      }
      if (!err.empty()) {
        r.status = "not attempted";
        r.detail = err;
        ok = false;
        break;
      }
      std::vector<rt::TensorRef> refs;
      for (auto &t : inputs)
        refs.push_back(t.ref());
      st = session.run("main", refs, outputs);
      if (!st.ok) {
        r.status = "FAIL";
        r.detail = "run: " + st.message;
        ok = false;
        break;
      }
      if (outputs.size() != expected.size()) {
        r.status = "FAIL";
        r.detail = "output count";
        ok = false;
        break;
      }
      for (size_t o = 0; o < outputs.size() && ok; ++o) {
        std::string c = compare(outputs[o], expected[o]);
        if (!c.empty()) {
          r.status = "FAIL";
          r.detail = "set " + std::to_string(k) + " output " + std::to_string(o) + ": " + c;
          ok = false;
        }
      }
    }
    if (ok) {
      r.status = "PASS";
      r.detail = std::to_string(sets) + " data set(s)";
      ++passed;
    } else if (r.status == "not attempted") {
      ++skipped;
    } else {
      ++failures;
    }
    results.push_back(r);
  }
  llvm::sys::fs::remove(tmp);
  std::printf("%-58s %-14s %s\n", "ONNX node test", "result", "detail");
  for (const Result &r : results)
    std::printf("%-58s %-14s %s\n", r.name.c_str(), r.status.c_str(), r.detail.c_str());
  std::printf("\n%zu node tests: %d attempted, %d not attempted (import/compile limits above)\n",
              results.size(), passed + failures, skipped);
  std::printf("%d passed, %d failed\n", passed, failures);
  return failures ? 1 : 0;
}
