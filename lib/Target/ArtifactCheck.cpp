//===- ArtifactCheck.cpp - a written .mub against its target file --------===//
#include "mu/Target/ArtifactCheck.h"

#include "mub_generated.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace mu {
namespace target {

namespace {

/// Element class of a stored tensor (as target files name them).
std::string classOf(const mub::Tensor &t) {
  switch (t.dtype()) {
  case mub::DType::F32:
  case mub::DType::F16:
  case mub::DType::BF16: return "float";
  case mub::DType::I64: return "i64";
  case mub::DType::I32: return "i32";
  case mub::DType::I16: return "i16";
  case mub::DType::U16: return "u16";
  case mub::DType::I8: return "i8";
  case mub::DType::U8: return "u8";
  case mub::DType::Bool: return "bool";
  }
  return "?";
}

/// "GeluTanh" -> "gelu_tanh", "MatMul" -> "matmul" (the muk op names).
std::string opName(mub::OpCode code) {
  std::string camel = mub::EnumNameOpCode(code);
  if (camel == "MatMul")
    return "matmul";
  std::string s;
  for (size_t i = 0; i < camel.size(); ++i) {
    char c = camel[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i)
        s += '_';
      s += char(std::tolower(static_cast<unsigned char>(c)));
    } else {
      s += c;
    }
  }
  return s;
}

bool isPowerOfTwo(float s) {
  int e;
  return s > 0 && std::frexp(s, &e) == 0.5f;
}

int bitsOf(mub::DType d) {
  return d == mub::DType::I8 || d == mub::DType::U8 ? 8 : d == mub::DType::I32 ? 32 : 16;
}

} // namespace

void checkArtifact(const rt::Model &model, const Target &target, const std::string &schemeName,
                   std::vector<std::string> &problems, ArtifactCheckStats &stats) {
  const mub::Model &fb = model.fb();
  std::string recorded = fb.target() ? fb.target()->str() : "";
  if (recorded != target.name)
    problems.push_back("artifact was compiled for target '" + recorded + "', not '" + target.name +
                       "'");
  std::string scheme = schemeName.empty() ? model.config("mu.target.scheme") : schemeName;
  if (scheme.empty())
    scheme = "none";
  const SchemeRule *rule = target.scheme(scheme);
  if (!rule) {
    problems.push_back("scheme '" + scheme + "' is not allowed by target '" + target.name + "' (" +
                       target.schemeList() + ")");
    return;
  }
  // Declared numerics.
  std::vector<std::string> numerics;
  if (fb.numerics())
    for (const flatbuffers::String *n : *fb.numerics())
      numerics.push_back(n ? n->str() : "");
  auto declared = [&](const std::string &n) {
    return std::find(numerics.begin(), numerics.end(), n) != numerics.end();
  };
  if (target.floatPrecision != FloatPrecision::F32 &&
      !declared(std::string(floatPrecisionName(target.floatPrecision)) + "-float"))
    problems.push_back(std::string("the artifact does not declare the target's float precision (") +
                       floatPrecisionName(target.floatPrecision) + "-float)");
  const ActivationRule *act = rule->activations ? &*rule->activations : nullptr;
  const OpRule *any = nullptr;
  if (auto it = target.ops.find("*"); it != target.ops.end())
    any = &it->second;

  // Static shapes: the cached programs a deployment runs (decoder-only
  // @prefill/@decode) hold no dynamic dim, take at most the target's chunk
  // and keep at most max_context rows of KV cache.
  if (target.staticShapes && !model.program("encode")) {
    for (const char *name : {"prefill", "decode"}) {
      const mub::Program *p = model.program(name);
      if (!p)
        continue;
      const auto &tensors = *p->tensors();
      int dynamic = 0;
      std::string first;
      for (uint32_t i = 0; i < tensors.size(); ++i) {
        const mub::Tensor *t = tensors.Get(i);
        bool dyn = false;
        for (uint32_t d = 0; t->shape() && d < t->shape()->size(); ++d)
          dyn |= t->shape()->Get(d) < 0;
        if (dyn && !dynamic++)
          first = "tensor #" + std::to_string(i) + " '" + (t->name() ? t->name()->str() : "") + "'";
        if (t->storage() == mub::Storage::State && target.maxContext > 0 && t->shape() &&
            t->shape()->size() == 4 && t->shape()->Get(2) > target.maxContext)
          problems.push_back(std::string("@") + name + " cache '" +
                             (t->name() ? t->name()->str() : "") + "' holds " +
                             std::to_string(t->shape()->Get(2)) + " rows; target max_context is " +
                             std::to_string(target.maxContext));
      }
      if (dynamic)
        problems.push_back(std::string("@") + name + ": " + std::to_string(dynamic) +
                           " tensor(s) with a dynamic dim (first: " + first + "); target '" +
                           target.name + "' requires static shapes");
      if (p->inputs() && p->inputs()->size() > 0) {
        const mub::Tensor *ids = tensors.Get(p->inputs()->Get(0));
        int64_t want = std::string(name) == "decode" ? target.decodeStep : target.prefillChunk;
        if (ids->shape() && ids->shape()->size() == 2 && want > 0 && ids->shape()->Get(1) > want)
          problems.push_back(std::string("@") + name + " takes " +
                             std::to_string(ids->shape()->Get(1)) + " tokens per call; target '" +
                             target.name + "' allows " + std::to_string(want));
      }
    }
  }

  for (const mub::Program *p : *fb.programs()) {
    std::string pname = p->name() ? p->name()->str() : "?";
    const auto &tensors = *p->tensors();
    auto where = [&](uint32_t i) {
      const mub::Tensor *t = tensors.Get(i);
      return "@" + pname + " tensor #" + std::to_string(i) + " '" +
             (t->name() ? t->name()->str() : "") + "'";
    };
    for (uint32_t i = 0; i < tensors.size(); ++i) {
      const mub::Tensor *t = tensors.Get(i);
      ++stats.tensors;
      if (t->layout() == mub::Layout::I8N16K4 && target.weightLayout != "i8n16k4")
        problems.push_back(where(i) + ": packed I8N16K4 but the target's weight layout is " +
                           target.weightLayout);
      const mub::QuantParams *q = t->quant();
      if (!q || t->dtype() == mub::DType::I32) // float, or an int32 bias
        continue;
      ++stats.quantized;
      int bits = bitsOf(t->dtype());
      bool isUnsigned = t->dtype() == mub::DType::U8 || t->dtype() == mub::DType::U16;
      size_t nscale = q->scale() ? q->scale()->size() : 0;
      bool allZero = true;
      if (q->zero_point())
        for (int64_t z : *q->zero_point())
          allZero = allZero && z == 0;
      bool pow2 = true;
      if (q->scale())
        for (float s : *q->scale())
          pow2 = pow2 && isPowerOfTwo(s);
      if (t->storage() == mub::Storage::Constant) { // a weight
        if (bits != rule->weights.bits)
          problems.push_back(where(i) + ": " + std::to_string(bits) + "-bit weight; scheme " +
                             scheme + " has " + std::to_string(rule->weights.bits) +
                             "-bit weights");
        if (isUnsigned || !allZero)
          problems.push_back(where(i) + ": weight is not symmetric signed (zero point 0)");
        int64_t m = (int64_t(1) << (bits - 1)) - 1;
        if (q->qmin() != -m || q->qmax() != m)
          problems.push_back(where(i) + ": weight range [" + std::to_string(q->qmin()) + ", " +
                             std::to_string(q->qmax()) + "] is not the narrow range [-" +
                             std::to_string(m) + ", " + std::to_string(m) + "]");
        if (q->block_size() > 0) {
          if (std::find(rule->weights.blockSizes.begin(), rule->weights.blockSizes.end(),
                        int64_t(q->block_size())) == rule->weights.blockSizes.end())
            problems.push_back(where(i) + ": block-wise weight (block " +
                               std::to_string(q->block_size()) + ") is not allowed by the target");
        } else if (nscale > 1 && rule->weights.granularity == Granularity::Tensor) {
          problems.push_back(where(i) + ": per-channel weight; the target wants one scale");
        }
        if (rule->weights.powerOfTwo && !pow2)
          problems.push_back(where(i) + ": weight scales are not powers of two");
        continue;
      }
      // An activation.
      if (!act) {
        problems.push_back(where(i) + ": integer activation under weight-only scheme " + scheme);
        continue;
      }
      bool wantUnsigned = act->encoding == ActEncoding::UintAsymmetric;
      if (isUnsigned != wantUnsigned)
        problems.push_back(where(i) + ": activation stored as " + classOf(*t) +
                           "; the target encodes activations as " + actEncodingName(act->encoding));
      if (act->encoding == ActEncoding::IntSymmetric && !allZero)
        problems.push_back(where(i) + ": non-zero zero point; the target's activations are "
                                      "symmetric");
      if (nscale > 1 && act->granularity == Granularity::Tensor)
        problems.push_back(where(i) + ": per-channel activation; the target wants per-tensor");
      if (act->powerOfTwo && !pow2)
        problems.push_back(where(i) + ": activation scale is not a power of two");
    }
    for (uint32_t k = 0; k < p->instrs()->size(); ++k) {
      const mub::Instr *in = p->instrs()->Get(k);
      ++stats.instructions;
      if (in->device() == mub::Device::HostCpu) {
        ++stats.onCpu;
        if (!target.cpuFallback)
          problems.push_back("@" + pname + " instruction #" + std::to_string(k) +
                             " is placed on the CPU but the target has no CPU fallback");
        continue;
      }
      if (in->op() == mub::OpCode::Round)
        continue; // host emulation of the target's float precision, not a device op
      std::string op = opName(in->op());
      auto it = target.ops.find(op);
      const OpRule *r = it != target.ops.end() ? &it->second : any;
      std::string at = "@" + pname + " instruction #" + std::to_string(k) + " (" + op + ")";
      if (!r) {
        problems.push_back(at + ": op not supported by the target but placed on it");
        continue;
      }
      auto check = [&](int32_t idx, const std::vector<std::string> &inputs,
                       const std::vector<std::string> &weights, const char *role) {
        if (idx < 0 || uint32_t(idx) >= tensors.size())
          return;
        const mub::Tensor *t = tensors.Get(uint32_t(idx));
        bool weight = t->storage() == mub::Storage::Constant;
        const std::vector<std::string> &allowed = weight ? weights : inputs;
        std::string c = classOf(*t);
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), c) == allowed.end())
          problems.push_back(at + ": " + (weight ? "weight" : role) + " " + where(uint32_t(idx)) +
                             " is " + c);
        int64_t rank = t->shape() ? int64_t(t->shape()->size()) : 0;
        if (rank > target.maxRank)
          problems.push_back(at + ": " + where(uint32_t(idx)) + " has rank " +
                             std::to_string(rank) + " (max " + std::to_string(target.maxRank) +
                             ")");
      };
      if (in->inputs())
        for (uint32_t slot = 0; slot < in->inputs()->size(); ++slot) {
          // The in-place cache position of attention is an index (as in
          // mu-check-target), not a computed operand.
          if (in->op() == mub::OpCode::Attention && slot == 6)
            continue;
          check(in->inputs()->Get(slot), r->inputs, r->weights, "input");
        }
      if (in->outputs())
        for (int32_t idx : *in->outputs())
          check(idx, r->outputs, r->outputs, "output");
    }
  }
}

} // namespace target
} // namespace mu
