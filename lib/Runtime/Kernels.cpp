//===- Kernels.cpp - reference kernels of the mu runtime ------------------===//
///
/// \file
/// FP32 reference kernels (integer and bool where ops need them). Weights may
/// be F16/BF16: they are widened on load. Accumulation is in float unless
/// noted; reductions over long axes (softmax, norms, dot products) use double
/// accumulators where it is cheap, so results are stable across layouts.
///
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "IntAccess.h"
#include "cpu/Rows.h"

#include "mu/Support/Half.h"
#include "mu/runtime/Integer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace mu {
namespace rt {

namespace {

using mub::OpCode;

Status fail(const mub::Instr &in, const std::string &msg) {
  return Status::error(std::string(mub::EnumNameOpCode(in.op())) + ": " + msg);
}

std::string shapeStr(const Shape &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t numelOf(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

int64_t normAxis(int64_t a, int64_t rank) { return a < 0 ? a + rank : a; }

/// Scale and zero point of element i of a quantized tensor.
inline void quantOf(const TensorRef &t, int64_t i, double &scale, double &zp) {
  const QuantInfo &q = *t.quant;
  int64_t c = 0;
  if (q.blockSize > 0) { // [channels, in] with blocks along `in`
    int64_t cols = t.shape.back();
    c = (i / cols) * (cols / q.blockSize) + (i % cols) / q.blockSize;
  } else if (q.axis >= 0) {
    int64_t stride = 1;
    for (size_t d = size_t(q.axis) + 1; d < t.shape.size(); ++d)
      stride *= t.shape[d];
    c = (i / stride) % t.shape[size_t(q.axis)];
  }
  scale = q.scales[c];
  zp = q.zeroPoints ? double(q.zeroPoints[c]) : 0.0;
}

double loadRaw(const TensorRef &t, int64_t i);

/// Reads element i of any numeric tensor as double (quantized integers are
/// dequantized: (q - zero_point) * scale).
double loadD(const TensorRef &t, int64_t i) {
  if (t.quant) {
    double scale, zp;
    quantOf(t, i, scale, zp);
    return (loadRaw(t, i) - zp) * scale;
  }
  return loadRaw(t, i);
}

double loadRaw(const TensorRef &t, int64_t i) {
  const void *p = t.data;
  switch (t.dtype) {
  case DType::F32: return static_cast<const float *>(p)[i];
  case DType::F16: return halfToFloat(static_cast<const uint16_t *>(p)[i]);
  case DType::BF16: return bf16ToFloat(static_cast<const uint16_t *>(p)[i]);
  case DType::I64: return double(static_cast<const int64_t *>(p)[i]);
  case DType::I32: return static_cast<const int32_t *>(p)[i];
  case DType::I16: return static_cast<const int16_t *>(p)[i];
  case DType::I8: return static_cast<const int8_t *>(p)[i];
  case DType::U8: return static_cast<const uint8_t *>(p)[i];
  case DType::U16: return static_cast<const uint16_t *>(p)[i];
  case DType::Bool: return static_cast<const uint8_t *>(p)[i] ? 1.0 : 0.0;
  }
  return 0;
}

int64_t loadI(const TensorRef &t, int64_t i) {
  if (t.dtype == DType::I64)
    return static_cast<const int64_t *>(t.data)[i];
  return int64_t(loadD(t, i));
}

/// v truncated toward zero (a C cast) into [lo, hi]; NaN -> 0. Values in
/// range convert as a cast; the rest saturate instead of being undefined.
template <typename T> T toInt(double v) {
  if (!(v == v))
    return T(0);
  constexpr double lo = double(std::numeric_limits<T>::min());
  constexpr double hi = double(std::numeric_limits<T>::max());
  if (v <= lo)
    return std::numeric_limits<T>::min();
  if (v >= hi)
    return std::numeric_limits<T>::max();
  return T(v);
}

/// Stores v into element i (float rounding: nearest-even; ints: truncation
/// toward zero, as a C cast, saturating; bool: v != 0).
void storeD(TensorRef &t, int64_t i, double v) {
  void *p = t.data;
  switch (t.dtype) {
  case DType::F32: static_cast<float *>(p)[i] = float(v); break;
  case DType::F16: static_cast<uint16_t *>(p)[i] = floatToHalf(float(v)); break;
  case DType::BF16: {
    float f = float(v);
    uint32_t b;
    std::memcpy(&b, &f, 4);
    b += 0x7fff + ((b >> 16) & 1);
    static_cast<uint16_t *>(p)[i] = uint16_t(b >> 16);
    break;
  }
  case DType::I64: static_cast<int64_t *>(p)[i] = toInt<int64_t>(v); break;
  case DType::I32: static_cast<int32_t *>(p)[i] = toInt<int32_t>(v); break;
  case DType::I16: static_cast<int16_t *>(p)[i] = toInt<int16_t>(v); break;
  case DType::I8: static_cast<int8_t *>(p)[i] = toInt<int8_t>(v); break;
  case DType::U8: static_cast<uint8_t *>(p)[i] = toInt<uint8_t>(v); break;
  case DType::U16: static_cast<uint16_t *>(p)[i] = toInt<uint16_t>(v); break;
  case DType::Bool: static_cast<uint8_t *>(p)[i] = v != 0.0; break;
  }
}

/// binary16 -> binary32 for all 65536 bit patterns (256 KB, built once):
/// exact, portable, and much faster than converting bit by bit.
const float *halfTable() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h)
      t[h] = halfToFloat(uint16_t(h));
    return t;
  }();
  return table.data();
}

/// Row of a float-like tensor as float (F32 is used in place).
const float *floatRow(const TensorRef &t, int64_t offset, int64_t n,
                      std::vector<float> &buf) {
  if (t.dtype == DType::F32)
    return static_cast<const float *>(t.data) + offset;
  buf.resize(n);
  if (t.dtype == DType::F16) {
    const float *tab = halfTable();
    const uint16_t *src = static_cast<const uint16_t *>(t.data) + offset;
    for (int64_t i = 0; i < n; ++i)
      buf[i] = tab[src[i]];
    return buf.data();
  }
  if (t.dtype == DType::I8 && t.quant && !t.quant->zeroPoints && t.quant->blockSize > 0 &&
      n % t.quant->blockSize == 0 && offset % t.quant->blockSize == 0) {
    // Block-wise int8: one scale per block of the row.
    const int8_t *src = static_cast<const int8_t *>(t.data) + offset;
    int64_t bsz = t.quant->blockSize;
    for (int64_t b = 0; b < n; b += bsz) {
      double scale, zp;
      quantOf(t, offset + b, scale, zp);
      float s = float(scale);
      for (int64_t i = b; i < b + bsz; ++i)
        buf[i] = float(src[i]) * s;
    }
    return buf.data();
  }
  if (t.dtype == DType::I8 && t.quant && !t.quant->zeroPoints && t.quant->blockSize == 0) {
    // Symmetric int8 (per tensor or per channel): one scale per row when the
    // row does not cross channels (the common [out, in] weight, axis 0).
    const int8_t *src = static_cast<const int8_t *>(t.data) + offset;
    double scale, zp;
    quantOf(t, offset, scale, zp);
    double last;
    quantOf(t, offset + n - 1, last, zp);
    if (scale == last && (t.quant->axis < 0 || t.quant->axis == 0)) {
      float s = float(scale);
      for (int64_t i = 0; i < n; ++i)
        buf[i] = float(src[i]) * s;
      return buf.data();
    }
  }
  for (int64_t i = 0; i < n; ++i)
    buf[i] = float(loadD(t, offset + i));
  return buf.data();
}

bool broadcast(const Shape &a, const Shape &b, Shape &out) {
  size_t r = std::max(a.size(), b.size());
  out.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

/// Strides of `in` (right-aligned to `out`) with 0 for broadcast dims.
std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (int64_t i = int64_t(in.size()) - 1; i >= 0; --i) {
    int64_t o = i + int64_t(out.size() - in.size());
    st[o] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return st;
}

/// Calls f(outIndex, offsets...) over `out` with per-operand strides.
template <typename F>
void forEachBroadcast(const Shape &out, const std::vector<std::vector<int64_t>> &strides, F f) {
  int64_t n = numelOf(out);
  size_t k = strides.size(), r = out.size();
  std::vector<int64_t> idx(r, 0), off(k, 0);
  for (int64_t i = 0; i < n; ++i) {
    f(i, off);
    for (int64_t d = int64_t(r) - 1; d >= 0; --d) {
      ++idx[d];
      for (size_t j = 0; j < k; ++j)
        off[j] += strides[j][d];
      if (idx[d] < out[d])
        break;
      for (size_t j = 0; j < k; ++j)
        off[j] -= strides[j][d] * idx[d];
      idx[d] = 0;
    }
  }
}

std::vector<int64_t> contiguousStrides(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t i = int64_t(s.size()) - 2; i >= 0; --i)
    st[i] = st[i + 1] * s[i + 1];
  return st;
}

double gelu(double x, bool tanhApprox) {
  if (tanhApprox)
    return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1.0 + std::erf(x * 0.7071067811865476));
}

double activation(int64_t kind, double x) {
  switch (kind) {
  case 0: return x / (1.0 + std::exp(-x));   // silu
  case 1: return gelu(x, false);
  case 2: return gelu(x, true);
  default: return x > 0 ? x : 0;              // relu
  }
}

bool isBinary(OpCode op) { return op <= OpCode::Greater; }
bool isUnary(OpCode op) { return op >= OpCode::Neg && op <= OpCode::GeluTanh; }

const std::vector<int64_t> emptyInts;

std::vector<int64_t> intsOf(const mub::Instr &in) {
  if (!in.ints())
    return {};
  return std::vector<int64_t>(in.ints()->begin(), in.ints()->end());
}
float floatAt(const mub::Instr &in, size_t i, float def) {
  return in.floats() && in.floats()->size() > i ? in.floats()->Get(i) : def;
}

} // namespace

bool opcodeArity(mub::OpCode op, Arity &a) {
  if (isBinary(op)) { a = {2, 2, 1, 1}; return true; }
  if (isUnary(op)) { a = {1, 1, 1, 1}; return true; }
  switch (op) {
  case OpCode::Where: a = {3, 3, 1, 1}; return true;
  case OpCode::Cast: case OpCode::Reshape: case OpCode::BroadcastTo:
  case OpCode::Transpose: case OpCode::Slice: case OpCode::Dim:
  case OpCode::ReduceSum: case OpCode::ReduceMean: case OpCode::ReduceMax:
  case OpCode::ReduceMin: case OpCode::Softmax:
    a = {1, 1, 1, 1}; return true;
  case OpCode::Concat: a = {1, 1 << 16, 1, 1}; return true;
  case OpCode::Split: a = {1, 1, 1, 1 << 16}; return true;
  case OpCode::Gather: a = {2, 2, 1, 1}; return true;
  case OpCode::Range: a = {3, 3, 1, 1}; return true;
  case OpCode::RmsNorm: a = {2, 2, 1, 1}; return true;
  case OpCode::LayerNorm: a = {3, 3, 1, 1}; return true;
  case OpCode::MatMul: a = {2, 2, 1, 1}; return true;
  case OpCode::Linear: a = {3, 3, 1, 1}; return true;
  case OpCode::Glu: a = {2, 2, 1, 1}; return true;
  case OpCode::Rope: a = {3, 3, 1, 1}; return true;
  case OpCode::Attention: a = {6, 7, 1, 3}; return true;
  case OpCode::Quantize: case OpCode::Dequantize: a = {1, 1, 1, 1}; return true;
  case OpCode::Round: a = {1, 1, 1, 1}; return true;
  case OpCode::Lora: a = {2, 2, 1, 1}; return true;
  default: return false;
  }
}

//===----------------------------------------------------------------------===//
// Operand validation
//===----------------------------------------------------------------------===//

namespace {
bool bcastOk(const Shape &a, const Shape &b) {
  Shape out;
  return broadcast(a, b, out) && out == b;
}
bool axisOk(int64_t a, size_t rank) { return a >= -int64_t(rank) && a < int64_t(rank); }

bool isQuantInt(const TensorRef &t) {
  return t.quant && t.quant->count > 0 &&
         (t.dtype == DType::I8 || t.dtype == DType::U8 || t.dtype == DType::I16 ||
          t.dtype == DType::U16);
}
bool perTensor(const TensorRef &t) { return t.quant && t.quant->count == 1 && t.quant->blockSize == 0; }
} // namespace

/// Checks what the kernels assume about dtypes, shapes and parameters, so a
/// damaged artifact that passed the structural checks gets an error instead
/// of an out-of-bounds access. Runs after shape inference, before execution.
Status checkOperands(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
                     const std::vector<TensorRef *> &outs) {
  OpCode op = in.op();
  std::vector<int64_t> ints = intsOf(in);
  auto bad = [&](const std::string &m) { return fail(in, m); };
  // Absent operands were checked by inferShapes, which runs first.
  for (size_t i = 0; i < ins.size(); ++i)
    if (ins[i] && ins[i]->layout != Layout::RowMajor) {
      bool linearWeight = op == OpCode::Linear && i == 1 && ins[0] &&
                          cpu::fastIntegerLinear(*ins[0], *ins[1], ins[2], *outs[0]);
      bool gatherTable = op == OpCode::Gather && i == 0 && ins[0]->quant && ins[0]->quant->count >= 1 &&
                         (ins[0]->quant->count == 1 || ins[0]->quant->count == ins[0]->shape[0]) &&
                         (ints.empty() || normAxis(ints[0], 2) == 0);
      if (!linearWeight && !gatherTable)
        return bad("operand " + std::to_string(i) +
                   " is a packed weight, which only integer linear (int8/int16 input) and gather read");
    }
  const TensorRef *x = ins.empty() ? nullptr : ins[0];
  const TensorRef &o = *outs[0];
  auto f32 = [](const TensorRef *t) { return !t || t->dtype == DType::F32; };
  switch (op) {
  case OpCode::Linear:
    if (x->shape.empty())
      return bad("input must have rank >= 1");
    if (ins[2] && ins[2]->numel() != ins[1]->shape[0])
      return bad("bias size does not match the weight");
    if (isQuantInt(*x)) {
      // Integer linear: per-tensor activations, symmetric per-channel (or
      // per-tensor) int8/int16 weights, int32 bias, f32 or requantized output.
      const TensorRef &w = *ins[1];
      if (!perTensor(*x))
        return bad("quantized input needs one scale and zero point");
      bool blocked = w.quant && w.quant->blockSize > 0;
      if (!(w.dtype == DType::I8 || w.dtype == DType::I16) || !w.quant || w.quant->zeroPoints ||
          !(w.quant->count == 1 || (!blocked && w.quant->axis == 0 && w.quant->count == w.shape[0]) ||
            (blocked && w.shape[1] % w.quant->blockSize == 0 &&
             w.quant->count == w.shape[0] * (w.shape[1] / w.quant->blockSize))))
        return bad("integer linear needs symmetric int8/int16 weights, per tensor, per output "
                   "channel or per block of the input dim");
      if (ins[2] && !(blocked ? f32(ins[2]) : (ins[2]->dtype == DType::I32 && ins[2]->quant)))
        return bad(blocked ? "block-wise integer linear takes an f32 bias"
                           : "integer linear needs a quantized int32 bias");
      if (!f32(&o) && !(isQuantInt(o) && (perTensor(o) || (o.quant->blockSize == 0 &&
                        o.quant->axis == int32_t(o.shape.size()) - 1 &&
                        o.quant->count == w.shape[0]))))
        return bad("output must be f32 or an integer quantized per tensor or per output channel");
      return Status::success();
    }
    if (!f32(x) || !f32(&o))
      return bad("input and output must be f32 (or a quantized integer input)");
    return Status::success();
  case OpCode::Lora: {
    const TensorRef *y = ins[1];
    if (!f32(x) || !y || !f32(y) || !f32(&o) || ints.size() != 1 || x->shape.empty() ||
        x->shape.size() != y->shape.size() ||
        !std::equal(x->shape.begin(), x->shape.end() - 1, y->shape.begin()))
      return bad("needs f32 input [..., in] and base [..., out] with the same leading dims");
    return Status::success();
  }
  case OpCode::Round:
    if (!f32(x) || !f32(&o) || ints.size() != 1 || (ints[0] != 1 && ints[0] != 2))
      return bad("rounds f32 to f32 through FP16 (ints [1]) or BF16 (ints [2])");
    return Status::success();
  case OpCode::Quantize: case OpCode::Dequantize: {
    const TensorRef &q = op == OpCode::Quantize ? o : *x;
    const TensorRef &f = op == OpCode::Quantize ? *x : o;
    if (!f32(&f) || !isQuantInt(q))
      return bad("converts between f32 and a quantized int8/uint8/int16 tensor");
    if (q.quant->blockSize > 0 || (q.quant->count != 1 &&
        (q.quant->axis < 0 || size_t(q.quant->axis) >= q.shape.size() ||
         q.quant->count != q.shape[size_t(q.quant->axis)])))
      return bad("quantization parameters do not match the tensor");
    return Status::success();
  }
  case OpCode::MatMul: case OpCode::Softmax: case OpCode::Glu:
    for (const TensorRef *t : ins)
      if (!f32(t))
        return bad("operands must be f32");
    if (!f32(&o))
      return bad("output must be f32");
    if (op == OpCode::Softmax && (x->shape.empty() || !axisOk(ints.empty() ? -1 : ints[0], x->shape.size())))
      return bad("bad axis");
    return Status::success();
  case OpCode::RmsNorm: case OpCode::LayerNorm: {
    if (!f32(x) || !f32(&o) || x->shape.empty())
      return bad("input and output must be f32");
    for (size_t i = 1; i < ins.size(); ++i)
      if (ins[i] && ins[i]->numel() != x->shape.back())
        return bad("weight/bias size does not match the normalized dim");
    return Status::success();
  }
  case OpCode::Rope:
    if (!f32(x) || !f32(&o) || x->shape.size() < 2 || x->shape.back() % 2)
      return bad("input must be f32 [..., seq, even head_dim]");
    if (!bcastOk(ins[1]->shape, x->shape) || !bcastOk(ins[2]->shape, x->shape))
      return bad("cos/sin do not broadcast to the input");
    return Status::success();
  case OpCode::Attention: {
    for (TensorRef *t : outs)
      if (!f32(t))
        return bad("outputs must be f32");
    const TensorRef *pk = ins[4], *pv = ins[5];
    if ((pk == nullptr) != (pv == nullptr) || (outs.size() == 3) != (pk != nullptr))
      return bad("past and present caches come together");
    if (pk && (pk->shape.size() != 4 || pv->shape.size() != 4 || pk->shape[0] != ins[1]->shape[0] ||
               pk->shape[1] != ins[1]->shape[1] || pk->shape[3] != ins[1]->shape[3] ||
               pv->shape[1] != ins[2]->shape[1] || pv->shape[2] != pk->shape[2] ||
               pv->shape[3] != ins[2]->shape[3]))
      return bad("cache shapes do not match key/value");
    const TensorRef *at = ins.size() > 6 ? ins[6] : nullptr;
    if (at && (!pk || at->dtype != DType::I64 || at->numel() != 1 || outs.size() != 3 ||
               outs[1]->shape != pk->shape || outs[2]->shape != pv->shape))
      return bad("an in-place cache needs an i64 position and presents of the caches' shapes");
    if (ins[3]) {
      int64_t T = at ? pk->shape[2] : (pk ? pk->shape[2] : 0) + ins[1]->shape[2];
      Shape full = {x->shape[0], x->shape[1], x->shape[2], T};
      if (ins[3]->shape.size() > 4 || !bcastOk(ins[3]->shape, full))
        return bad("mask does not broadcast to [B, Hq, S, T]");
    }
    return Status::success();
  }
  case OpCode::Where:
    if (ins[0]->dtype != DType::Bool || ins[1]->dtype != o.dtype || ins[2]->dtype != o.dtype)
      return bad("condition must be bool and x, y, result share a dtype");
    return Status::success();
  case OpCode::Reshape: case OpCode::BroadcastTo: case OpCode::Transpose: case OpCode::Slice:
  case OpCode::Split: case OpCode::Concat:
    for (const TensorRef *t : ins)
      if (t->dtype != o.dtype)
        return bad("data movement must keep the dtype");
    for (TensorRef *t : outs)
      if (t->dtype != o.dtype)
        return bad("data movement must keep the dtype");
    if (op == OpCode::Concat) {
      int64_t axis = ints.empty() ? 0 : ints[0];
      if (!axisOk(axis, x->shape.size()))
        return bad("bad axis");
      axis = normAxis(axis, x->shape.size());
      for (const TensorRef *t : ins)
        for (size_t d = 0; d < x->shape.size(); ++d)
          if (int64_t(d) != axis && t->shape[d] != x->shape[d])
            return bad("inputs differ outside the concat axis");
    }
    if (op == OpCode::Split) {
      int64_t axis = ints.empty() ? 0 : ints[0];
      if (!axisOk(axis, x->shape.size()))
        return bad("bad axis");
      int64_t total = 0;
      for (TensorRef *t : outs)
        total += t->shape.size() == x->shape.size() ? t->shape[normAxis(axis, x->shape.size())] : -1;
      if (total != x->shape[normAxis(axis, x->shape.size())])
        return bad("pieces do not add up to the input");
    }
    return Status::success();
  case OpCode::Gather:
    if (x->shape.empty() || !axisOk(ints.empty() ? 0 : ints[0], x->shape.size()))
      return bad("bad axis");
    if (!x->quant && x->dtype != o.dtype)
      return Status::success(); // converting path: element-wise loads/stores
    return Status::success();
  case OpCode::Dim:
    if (o.dtype != DType::I64 || !axisOk(ints.empty() ? 0 : ints[0], x->shape.size()))
      return bad("output must be i64 and the axis in range");
    return Status::success();
  case OpCode::ReduceSum: case OpCode::ReduceMean: case OpCode::ReduceMax: case OpCode::ReduceMin:
    for (size_t i = 1; i < ints.size(); ++i)
      if (!axisOk(ints[i], x->shape.size()))
        return bad("bad axis");
    return Status::success();
  default:
    if (isUnary(op) && x->dtype == DType::F32 && o.dtype != DType::F32)
      return bad("output must be f32 like the input");
    if (isBinary(op) && (ins[0]->dtype != ins[1]->dtype))
      return bad("operand dtypes differ");
    return Status::success();
  }
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

bool operandOptional(OpCode op, size_t i) {
  return (op == OpCode::Linear && i == 2) || (op == OpCode::RmsNorm && i == 1) ||
         (op == OpCode::LayerNorm && i >= 1) || (op == OpCode::Attention && i >= 3);
}

namespace {
/// The least rank each operand's shape function indexes (0: any).
size_t minRank(OpCode op, size_t i) {
  switch (op) {
  case OpCode::Linear: return i == 1 ? 2 : i == 0 ? 1 : 0;
  case OpCode::MatMul: return 1;
  case OpCode::Attention: return i == 3 || i == 6 ? 0 : 4;
  case OpCode::Gather: return i == 0 ? 1 : 0;
  case OpCode::Glu: case OpCode::Rope: case OpCode::RmsNorm: case OpCode::LayerNorm:
  case OpCode::Softmax:
    return i == 0 ? 1 : 0;
  default: return 0;
  }
}

/// a * b when it stays within [0, limit]; false otherwise.
bool mulBounded(int64_t a, int64_t b, int64_t limit, int64_t &out) {
  if (a < 0 || b < 0 || (a != 0 && b > limit / a))
    return false;
  out = a * b;
  return true;
}

constexpr int64_t kMaxElements = int64_t(1) << 40;

Status inferShapesUnchecked(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
                            const std::vector<Shape> &declared, std::vector<Shape> &out);
} // namespace

/// Guards the shape functions: operands present and of the rank they index,
/// and results whose every dimension and element count is in range (so the
/// capacity check that follows cannot overflow).
Status inferShapes(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
                   const std::vector<Shape> &declared, std::vector<Shape> &out) {
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i]) {
      if (!operandOptional(in.op(), i))
        return fail(in, "missing operand " + std::to_string(i));
      continue;
    }
    if (ins[i]->shape.size() < minRank(in.op(), i))
      return fail(in, "operand " + std::to_string(i) + " " + shapeStr(ins[i]->shape) +
                          " has rank " + std::to_string(ins[i]->shape.size()) + ", needs at least " +
                          std::to_string(minRank(in.op(), i)));
  }
  Status s = inferShapesUnchecked(in, ins, declared, out);
  if (!s.ok)
    return s;
  for (const Shape &o : out) {
    int64_t n = 1;
    for (int64_t d : o)
      if (!mulBounded(n, d, kMaxElements, n))
        return fail(in, "result shape " + shapeStr(o) + " is negative or too large");
  }
  return Status::success();
}

namespace {
Status inferShapesUnchecked(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
                            const std::vector<Shape> &declared, std::vector<Shape> &out) {
  OpCode op = in.op();
  out.resize(declared.size()); // keeps each shape's capacity across calls
  for (Shape &o : out)
    o.clear();
  auto shp = [&](size_t i) -> const Shape & { return ins[i]->shape; };
  std::vector<int64_t> ints = intsOf(in);
  if (isBinary(op)) {
    if (!broadcast(shp(0), shp(1), out[0]))
      return fail(in, "shapes " + shapeStr(shp(0)) + " and " + shapeStr(shp(1)) + " do not broadcast");
    return Status::success();
  }
  if (isUnary(op) || op == OpCode::Cast || op == OpCode::Softmax ||
      op == OpCode::Quantize || op == OpCode::Dequantize || op == OpCode::RmsNorm ||
      op == OpCode::LayerNorm || op == OpCode::Rope || op == OpCode::Round) {
    out[0] = shp(0);
    return Status::success();
  }
  if (op == OpCode::Lora) {
    out[0] = shp(1);
    return Status::success();
  }
  switch (op) {
  case OpCode::Where: {
    Shape t;
    if (!broadcast(shp(0), shp(1), t) || !broadcast(t, shp(2), out[0]))
      return fail(in, "operands do not broadcast");
    return Status::success();
  }
  case OpCode::Reshape: {
    out[0] = declared[0];
    int64_t known = 1, dyn = -1;
    for (size_t i = 0; i < out[0].size(); ++i) {
      if (out[0][i] < 0)
        dyn = int64_t(i);
      else if (!mulBounded(known, out[0][i], kMaxElements, known))
        return fail(in, "target shape " + shapeStr(declared[0]) + " is too large");
    }
    int64_t n = ins[0]->numel();
    if (dyn >= 0) {
      if (known == 0 || n % known)
        return fail(in, "cannot reshape " + shapeStr(shp(0)) + " to " + shapeStr(declared[0]));
      out[0][dyn] = n / known;
    } else if (known != n) {
      return fail(in, "element count mismatch " + shapeStr(shp(0)) + " -> " + shapeStr(declared[0]));
    }
    return Status::success();
  }
  case OpCode::BroadcastTo: {
    out[0] = declared[0];
    const Shape &s = shp(0);
    if (s.size() > out[0].size())
      return fail(in, "rank too small");
    size_t off = out[0].size() - s.size();
    for (size_t i = 0; i < out[0].size(); ++i) {
      int64_t src = i < off ? 1 : s[i - off];
      if (out[0][i] < 0)
        out[0][i] = src;
      else if (src != 1 && src != out[0][i])
        return fail(in, "cannot broadcast " + shapeStr(s) + " to " + shapeStr(declared[0]));
    }
    return Status::success();
  }
  case OpCode::Transpose: {
    if (ints.size() != shp(0).size())
      return fail(in, "perm rank mismatch");
    for (int64_t p : ints) {
      if (p < 0 || p >= int64_t(shp(0).size()))
        return fail(in, "bad perm");
      out[0].push_back(shp(0)[p]);
    }
    return Status::success();
  }
  case OpCode::Concat: {
    if (!axisOk(ints.empty() ? 0 : ints[0], shp(0).size()))
      return fail(in, "bad axis");
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], shp(0).size());
    out[0] = shp(0);
    for (size_t i = 1; i < ins.size(); ++i) {
      if (ins[i]->shape.size() != out[0].size())
        return fail(in, "inputs differ in rank");
      out[0][axis] += ins[i]->shape[axis];
    }
    return Status::success();
  }
  case OpCode::Slice: {
    // ints: n, axes[n], starts[n], ends[n], steps[n]
    out[0] = shp(0);
    int64_t n = ints.empty() ? 0 : ints[0];
    if (int64_t(ints.size()) != 1 + 4 * n)
      return fail(in, "bad slice parameters");
    for (int64_t i = 0; i < n; ++i) {
      if (!axisOk(ints[1 + i], out[0].size()) || ints[1 + 3 * n + i] == 0)
        return fail(in, "bad slice axis or step");
      int64_t ax = normAxis(ints[1 + i], out[0].size());
      int64_t dim = shp(0)[ax], step = ints[1 + 3 * n + i];
      auto clampB = [&](int64_t v) {
        if (v < 0) v += dim;
        return step > 0 ? std::clamp<int64_t>(v, 0, dim) : std::clamp<int64_t>(v, -1, dim - 1);
      };
      int64_t s = clampB(ints[1 + n + i]), e = clampB(ints[1 + 2 * n + i]);
      int64_t len = step > 0 ? (e - s + step - 1) / step : (s - e - step - 1) / (-step);
      out[0][ax] = std::max<int64_t>(len, 0);
    }
    return Status::success();
  }
  case OpCode::Split: {
    if (!axisOk(ints.empty() ? 0 : ints[0], shp(0).size()))
      return fail(in, "bad axis");
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], shp(0).size());
    int64_t used = 0, dynIdx = -1;
    for (size_t i = 0; i < declared.size(); ++i) {
      if (declared[i].size() != shp(0).size())
        return fail(in, "output " + std::to_string(i) + " differs from the input in rank");
      out[i] = shp(0);
      int64_t d = declared[i][axis];
      if (d < 0)
        dynIdx = int64_t(i);
      else
        used += d;
      out[i][axis] = d;
    }
    if (dynIdx >= 0)
      out[dynIdx][axis] = shp(0)[axis] - used;
    else if (used != shp(0)[axis])
      return fail(in, "split sizes do not add up to " + std::to_string(shp(0)[axis]));
    return Status::success();
  }
  case OpCode::Gather: {
    if (shp(0).empty() || !axisOk(ints.empty() ? 0 : ints[0], shp(0).size()))
      return fail(in, "bad axis");
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], shp(0).size());
    out[0].assign(shp(0).begin(), shp(0).begin() + axis);
    out[0].insert(out[0].end(), shp(1).begin(), shp(1).end());
    out[0].insert(out[0].end(), shp(0).begin() + axis + 1, shp(0).end());
    return Status::success();
  }
  case OpCode::Range: {
    for (int i = 0; i < 3; ++i)
      if (ins[i]->numel() < 1)
        return fail(in, "start, limit and delta must be scalars");
    double s = loadD(*ins[0], 0), l = loadD(*ins[1], 0), d = loadD(*ins[2], 0);
    double n = std::ceil((l - s) / d);
    if (d == 0 || !(n < double(kMaxElements)))
      return fail(in, "delta is zero or the range is too long");
    out[0] = {n > 0 ? int64_t(n) : 0};
    return Status::success();
  }
  case OpCode::Dim:
    if (!axisOk(ints.empty() ? 0 : ints[0], shp(0).size()))
      return fail(in, "bad axis");
    out[0] = {};
    return Status::success();
  case OpCode::ReduceSum: case OpCode::ReduceMean: case OpCode::ReduceMax:
  case OpCode::ReduceMin: {
    // ints: keepdims, axes...
    bool keep = ints.empty() || ints[0];
    std::vector<bool> red(shp(0).size(), ints.size() <= 1);
    for (size_t i = 1; i < ints.size(); ++i) {
      if (!axisOk(ints[i], shp(0).size()))
        return fail(in, "bad axis");
      red[normAxis(ints[i], shp(0).size())] = true;
    }
    for (size_t i = 0; i < red.size(); ++i) {
      if (!red[i])
        out[0].push_back(shp(0)[i]);
      else if (keep)
        out[0].push_back(1);
    }
    return Status::success();
  }
  case OpCode::MatMul: {
    Shape a = shp(0), b = shp(1);
    bool av = a.size() == 1, bv = b.size() == 1;
    if (av) a.insert(a.begin(), 1);
    if (bv) b.push_back(1);
    if (a.back() != b[b.size() - 2])
      return fail(in, "contraction dims differ: " + shapeStr(shp(0)) + " x " + shapeStr(shp(1)));
    Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    if (!broadcast(ba, bb, out[0]))
      return fail(in, "batch dims do not broadcast");
    if (!av) out[0].push_back(a[a.size() - 2]);
    if (!bv) out[0].push_back(b.back());
    return Status::success();
  }
  case OpCode::Linear: {
    if (shp(1).size() != 2 || shp(0).back() != shp(1)[1])
      return fail(in, "input " + shapeStr(shp(0)) + " does not match weight " + shapeStr(shp(1)));
    out[0] = shp(0);
    out[0].back() = shp(1)[0];
    return Status::success();
  }
  case OpCode::Glu:
    if (shp(0) != shp(1))
      return fail(in, "gate and up shapes differ");
    out[0] = shp(0);
    return Status::success();
  case OpCode::Attention: {
    const Shape &q = shp(0), &k = shp(1), &v = shp(2);
    if (q.size() != 4 || k.size() != 4 || v.size() != 4)
      return fail(in, "q, k, v must be 4-d");
    if (k[1] == 0 || q[1] % k[1] || q[3] != k[3] || k[2] != v[2] || k[1] != v[1])
      return fail(in, "inconsistent q/k/v shapes " + shapeStr(q) + " " + shapeStr(k) + " " + shapeStr(v));
    int64_t past = ins[4] ? ins[4]->shape[2] : 0;
    out[0] = {q[0], q[1], q[2], v[3]};
    if (out.size() == 3 && ins.size() > 6 && ins[6] && ins[4] && ins[5]) {
      out[1] = ins[4]->shape; // in place: the capacity stays
      out[2] = ins[5]->shape;
    } else if (out.size() == 3) {
      out[1] = {k[0], k[1], past + k[2], k[3]};
      out[2] = {v[0], v[1], past + v[2], v[3]};
    }
    return Status::success();
  }
  default:
    return fail(in, "no shape function");
  }
}
} // namespace

//===----------------------------------------------------------------------===//
// Executors
//===----------------------------------------------------------------------===//

namespace {

Status binary(const mub::Instr &in, const TensorRef &a, const TensorRef &b, TensorRef &o) {
  OpCode op = in.op();
  std::vector<std::vector<int64_t>> st = {broadcastStrides(a.shape, o.shape),
                                          broadcastStrides(b.shape, o.shape)};
  bool ints = a.dtype == DType::I64 || a.dtype == DType::I32 || a.dtype == DType::Bool;
  if (a.dtype == DType::F32 && b.dtype == DType::F32 && o.dtype == DType::F32) {
    const float *pa = static_cast<const float *>(a.data), *pb = static_cast<const float *>(b.data);
    float *po = static_cast<float *>(o.data);
    // Fast path: same shapes.
    if (a.shape == o.shape && b.shape == o.shape && (op == OpCode::Add || op == OpCode::Mul)) {
      if (op == OpCode::Add)
        cpu::addF32(pa, pb, po, o.numel());
      else
        cpu::mulF32(pa, pb, po, o.numel());
      return Status::success();
    }
    forEachBroadcast(o.shape, st, [&](int64_t i, const std::vector<int64_t> &off) {
      float x = pa[off[0]], y = pb[off[1]];
      float r;
      switch (op) {
      case OpCode::Add: r = x + y; break;
      case OpCode::Sub: r = x - y; break;
      case OpCode::Mul: r = x * y; break;
      case OpCode::Div: r = x / y; break;
      case OpCode::Pow: r = std::pow(x, y); break;
      case OpCode::Max: r = std::max(x, y); break;
      default: r = std::min(x, y); break;
      }
      po[i] = r;
    });
    return Status::success();
  }
  (void)ints;
  forEachBroadcast(o.shape, st, [&](int64_t i, const std::vector<int64_t> &off) {
    double x = loadD(a, off[0]), y = loadD(b, off[1]);
    double r = 0;
    switch (op) {
    case OpCode::Add: r = x + y; break;
    case OpCode::Sub: r = x - y; break;
    case OpCode::Mul: r = x * y; break;
    case OpCode::Div:
      r = (a.dtype == DType::F32 || a.dtype == DType::F16) ? x / y : std::trunc(x / y);
      break;
    case OpCode::Pow: r = std::pow(x, y); break;
    case OpCode::Max: r = std::max(x, y); break;
    case OpCode::Min: r = std::min(x, y); break;
    case OpCode::And: r = (x != 0) && (y != 0); break;
    case OpCode::Or: r = (x != 0) || (y != 0); break;
    case OpCode::Equal: r = x == y; break;
    case OpCode::Less: r = x < y; break;
    default: r = x > y; break;
    }
    storeD(o, i, r);
  });
  return Status::success();
}

Status unary(const mub::Instr &in, const TensorRef &a, TensorRef &o) {
  OpCode op = in.op();
  int64_t n = o.numel();
  if (a.dtype != DType::F32) {
    for (int64_t i = 0; i < n; ++i) {
      double x = loadD(a, i);
      storeD(o, i, op == OpCode::Neg ? -x : op == OpCode::Abs ? std::fabs(x) : double(x == 0));
    }
    return Status::success();
  }
  const float *x = static_cast<const float *>(a.data);
  float *y = static_cast<float *>(o.data);
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i], r;
    switch (op) {
    case OpCode::Neg: r = -v; break;
    case OpCode::Abs: r = std::fabs(v); break;
    case OpCode::Not: r = v == 0; break;
    case OpCode::Exp: r = std::exp(v); break;
    case OpCode::Log: r = std::log(v); break;
    case OpCode::Sqrt: r = std::sqrt(v); break;
    case OpCode::Rsqrt: r = 1.0 / std::sqrt(v); break;
    case OpCode::Reciprocal: r = 1.0 / v; break;
    case OpCode::Tanh: r = std::tanh(v); break;
    case OpCode::Erf: r = std::erf(v); break;
    case OpCode::Sin: r = std::sin(v); break;
    case OpCode::Cos: r = std::cos(v); break;
    case OpCode::Sigmoid: r = 1.0 / (1.0 + std::exp(-v)); break;
    case OpCode::Relu: r = v > 0 ? v : 0; break;
    case OpCode::Silu: r = v / (1.0 + std::exp(-v)); break;
    case OpCode::Gelu: r = gelu(v, false); break;
    default: r = gelu(v, true); break;
    }
    y[i] = float(r);
  }
  return Status::success();
}

/// Copies elements of `src` into `dst` where dst index -> src offset is
/// given by per-dim strides over dst's shape (generic data movement).
void gatherCopy(const TensorRef &src, TensorRef &dst, const std::vector<int64_t> &srcStrides,
                int64_t srcBase = 0) {
  size_t es = dtypeSize(src.dtype);
  const uint8_t *s = static_cast<const uint8_t *>(src.data);
  uint8_t *d = static_cast<uint8_t *>(dst.data);
  if (!dst.shape.empty() && srcStrides.back() == 1 && dst.shape.back() > 1) {
    // The innermost dim is contiguous in both: copy it as one run.
    size_t run = size_t(dst.shape.back()) * es;
    Shape outer(dst.shape.begin(), dst.shape.end() - 1);
    std::vector<int64_t> st(srcStrides.begin(), srcStrides.end() - 1);
    forEachBroadcast(outer, {st}, [&](int64_t i, const std::vector<int64_t> &off) {
      std::memcpy(d + size_t(i) * run, s + (srcBase + off[0]) * es, run);
    });
    return;
  }
  forEachBroadcast(dst.shape, {srcStrides}, [&](int64_t i, const std::vector<int64_t> &off) {
    std::memcpy(d + i * es, s + (srcBase + off[0]) * es, es);
  });
}

/// The reference attention (double accumulation) over rows [0, T) of the
/// keys/values `k`/`v` ([B, Hkv, cap, D]: `cap` rows per head): query i
/// reads keys t <= i + offset when causal; `mask` broadcasts to
/// [B, Hq, S, cols].
void referenceAttention(const TensorRef &q, const TensorRef &k, const TensorRef &v,
                        const TensorRef *mask, float scale, bool causal, int64_t T, int64_t offset,
                        int64_t cols, Scratch &scratch, TensorRef &o) {
  int64_t B = q.shape[0], Hq = q.shape[1], S = q.shape[2], D = q.shape[3];
  int64_t Hkv = k.shape[1], cap = k.shape[2], Dv = v.shape[3], group = Hq / Hkv;
  float *scores = scratch.floats(size_t(T));
  std::vector<float> qb, kb, vb;
  std::vector<double> acc(static_cast<size_t>(Dv));
  float *po = static_cast<float *>(o.data);
  std::vector<int64_t> mst;
  if (mask)
    mst = broadcastStrides(mask->shape, {B, Hq, S, cols});
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      int64_t hk = h / group;
      for (int64_t i = 0; i < S; ++i) {
        const float *qr = floatRow(q, ((b * Hq + h) * S + i) * D, D, qb);
        float mx = ninf;
        for (int64_t t = 0; t < T; ++t) {
          float sc = ninf;
          if (!causal || t <= i + offset) {
            const float *kr = floatRow(k, ((b * Hkv + hk) * cap + t) * D, D, kb);
            double dot = 0;
            for (int64_t d = 0; d < D; ++d)
              dot += double(qr[d]) * kr[d];
            sc = float(dot) * scale;
            if (mask) {
              int64_t mi = b * mst[0] + h * mst[1] + i * mst[2] + t * mst[3];
              if (mask->dtype == DType::Bool)
                sc = static_cast<const uint8_t *>(mask->data)[mi] ? sc : ninf;
              else
                sc += float(loadD(*mask, mi));
            }
          }
          scores[t] = sc;
          mx = std::max(mx, sc);
        }
        double sum = 0;
        for (int64_t t = 0; t < T; ++t) {
          double e = std::isinf(scores[t]) && scores[t] < 0 ? 0.0 : std::exp(double(scores[t]) - mx);
          scores[t] = float(e);
          sum += e;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t t = 0; t < T; ++t) {
          if (scores[t] == 0)
            continue;
          const float *vr = floatRow(v, ((b * Hkv + hk) * cap + t) * Dv, Dv, vb);
          double p = scores[t] / sum;
          for (int64_t d = 0; d < Dv; ++d)
            acc[size_t(d)] += p * vr[d];
        }
        float *orow = po + ((b * Hq + h) * S + i) * Dv;
        for (int64_t d = 0; d < Dv; ++d)
          orow[d] = float(acc[size_t(d)]);
      }
    }
}

/// Attention over an in-place cache (`at(position)`, mu-static-shapes): the
/// new rows go to [pos, pos + S) of the [B, Hkv, M, D] cache (rows past M are
/// padding and dropped); query i reads keys [0, pos + i] when causal, else
/// [0, min(pos + S, M)).
Status attentionInPlace(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
                        const std::vector<TensorRef *> &outs, Scratch &scratch) {
  const TensorRef &q = *ins[0], &kNew = *ins[1], &vNew = *ins[2];
  const TensorRef *mask = ins[3];
  TensorRef &o = *outs[0];
  float scale = floatAt(in, 0, 1.0f);
  bool causal = in.ints() && in.ints()->size() > 0 && in.ints()->Get(0) != 0;
  int64_t pos = int64_t(loadD(*ins[6], 0));
  int64_t B = q.shape[0], S = q.shape[2];
  int64_t Hkv = kNew.shape[1], M = ins[4]->shape[2];
  if (pos < 0 || pos >= M)
    return fail(in, "cache position " + std::to_string(pos) + " is outside the " +
                        std::to_string(M) + "-row cache");
  for (int which = 1; which <= 2; ++which) {
    const TensorRef &past = *ins[3 + which], &cur = which == 1 ? kNew : vNew;
    TensorRef &pres = *outs[size_t(which)];
    int64_t dim = cur.shape[3];
    float *dst = static_cast<float *>(pres.data);
    std::vector<float> tmp;
    if (pres.data != past.data) // not aliased: start from the past
      for (int64_t r = 0; r < B * Hkv * M; ++r)
        std::memcpy(dst + r * dim, floatRow(past, r * dim, dim, tmp), size_t(dim) * sizeof(float));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t t = 0; t < S && pos + t < M; ++t)
          std::memcpy(dst + ((b * Hkv + h) * M + pos + t) * dim,
                      floatRow(cur, ((b * Hkv + h) * S + t) * dim, dim, tmp),
                      size_t(dim) * sizeof(float));
  }
  int64_t T = std::min(pos + S, M);
  if (cpu::fastAttention(q, *outs[1], *outs[2], mask, scale, causal, o, scratch.pool, T, pos))
    return Status::success();
  referenceAttention(q, *outs[1], *outs[2], mask, scale, causal, T, pos, M, scratch, o);
  return Status::success();
}

Status attention(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
                 const std::vector<TensorRef *> &outs, Scratch &scratch) {
  if (ins.size() > 6 && ins[6])
    return attentionInPlace(in, ins, outs, scratch);
  const TensorRef &q = *ins[0], &kNew = *ins[1], &vNew = *ins[2];
  const TensorRef *mask = ins[3], *pk = ins[4], *pv = ins[5];
  TensorRef &o = *outs[0];
  float scale = floatAt(in, 0, 1.0f);
  bool causal = in.ints() && in.ints()->size() > 0 && in.ints()->Get(0) != 0;
  int64_t B = q.shape[0], S = q.shape[2];
  int64_t Hkv = kNew.shape[1], Tn = kNew.shape[2];
  int64_t P = pk ? pk->shape[2] : 0, T = P + Tn;
  // Keys/values over [0, T): past rows then new rows. With a cache the
  // present outputs hold the concatenation (they may alias the past buffers:
  // rows [0, P) are then already in place).
  std::vector<float> kbuf, vbuf;
  auto row = [&](const TensorRef *past, const TensorRef &cur, int64_t b, int64_t h, int64_t t,
                 int64_t dim, std::vector<float> &buf) -> const float * {
    if (t < P)
      return floatRow(*past, ((b * Hkv + h) * P + t) * dim, dim, buf);
    return floatRow(cur, ((b * Hkv + h) * Tn + (t - P)) * dim, dim, buf);
  };
  if (outs.size() == 3) {
    for (int out = 1; out <= 2; ++out) {
      TensorRef &pres = *outs[out];
      const TensorRef *past = out == 1 ? pk : pv;
      const TensorRef &cur = out == 1 ? kNew : vNew;
      int64_t dim = cur.shape[3];
      float *dst = static_cast<float *>(pres.data);
      std::vector<float> tmp;
      // Newest rows first so an aliased past buffer is never overwritten
      // before it is read (rows move to the same or higher offsets).
      for (int64_t b = B - 1; b >= 0; --b)
        for (int64_t h = Hkv - 1; h >= 0; --h)
          for (int64_t t = T - 1; t >= 0; --t) {
            const float *src = row(past, cur, b, h, t, dim, tmp);
            float *d = dst + ((b * Hkv + h) * T + t) * dim;
            if (src != d)
              std::memmove(d, src, dim * sizeof(float));
          }
    }
  }
  if (outs.size() == 3 && cpu::fastAttention(q, *outs[1], *outs[2], mask, scale, causal, o,
                                             scratch.pool))
    return Status::success();
  // With a cache, the present buffers hold past + new rows (they may have
  // overwritten an aliased past buffer's layout); without, the new rows.
  referenceAttention(q, outs.size() == 3 ? *outs[1] : kNew, outs.size() == 3 ? *outs[2] : vNew, mask,
                     scale, causal, T, T - S, T, scratch, o);
  return Status::success();
}

} // namespace

namespace {

/// Quantize (f32 -> int) or dequantize (int -> f32), per tensor or per
/// channel along the quantization axis.
void convertQuant(OpCode op, const TensorRef &x, TensorRef &o) {
  const TensorRef &q = op == OpCode::Quantize ? o : x;
  int32_t lo, hi;
  storageRange(q, lo, hi);
  int64_t n = x.numel();
  int64_t inner = 1, count = q.quant->count;
  if (count > 1)
    for (size_t d = size_t(q.quant->axis) + 1; d < q.shape.size(); ++d)
      inner *= q.shape[d];
  if (inner == 1 && (count == 1 || (q.quant->axis == int32_t(q.shape.size()) - 1 && count > 0))) {
    // Per tensor or per channel along the last axis (the activation
    // layouts): typed rows, no index arithmetic per element; same math.
    int64_t rows = n / count;
    auto zpOf = [&](int64_t c) { return q.quant->zeroPoints ? int32_t(q.quant->zeroPoints[c]) : 0; };
    auto run = [&](auto *ints) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < count; ++c) {
          int64_t i = r * count + c;
          if (op == OpCode::Quantize)
            ints[i] = decltype(+ints[0])(quantizeValue(static_cast<const float *>(x.data)[i],
                                                      q.quant->scales[c], zpOf(c), lo, hi));
          else
            static_cast<float *>(o.data)[i] = float(int32_t(ints[i]) - zpOf(c)) * q.quant->scales[c];
        }
    };
    void *qd = op == OpCode::Quantize ? o.data : x.data;
    switch (q.dtype) {
    case DType::I8: run(static_cast<int8_t *>(qd)); return;
    case DType::U8: run(static_cast<uint8_t *>(qd)); return;
    case DType::I16: run(static_cast<int16_t *>(qd)); return;
    case DType::U16: run(static_cast<uint16_t *>(qd)); return;
    default: break;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = count > 1 ? (i / inner) % count : 0;
    float scale = q.quant->scales[c];
    int32_t zp = q.quant->zeroPoints ? int32_t(q.quant->zeroPoints[c]) : 0;
    if (op == OpCode::Quantize)
      storeInt(o, i, quantizeValue(static_cast<const float *>(x.data)[i], scale, zp, lo, hi));
    else
      static_cast<float *>(o.data)[i] = float(loadInt(x, i) - zp) * scale;
  }
}

/// Integer linear with block-wise weight scales: an exact integer dot
/// product per block of B inputs, combined in double with the block's real
/// scale x_scale * w_scale[c, b] (as llama.cpp's Q8_0 x Q8 dot), plus an f32
/// bias; the real result is stored as f32 or quantized (quantizeValue).
Status linearIntegerBlocked(const std::vector<const TensorRef *> &ins, TensorRef &o) {
  const TensorRef &x = *ins[0], &w = *ins[1];
  const TensorRef *bias = ins[2];
  int64_t K = w.shape[1], N = w.shape[0], M = x.numel() / std::max<int64_t>(K, 1);
  int64_t B = w.quant->blockSize, nb = K / B;
  double xs = x.quant->scales[0];
  int32_t xz = x.quant->zeroPoints ? int32_t(x.quant->zeroPoints[0]) : 0;
  int32_t ylo = 0, yhi = 0;
  bool intOut = o.dtype != DType::F32;
  if (intOut)
    storageRange(o, ylo, yhi);
  std::vector<int32_t> xr(static_cast<size_t>(K));
  std::vector<int64_t> acc(static_cast<size_t>(nb));
  // Exact per-block dot products: int32 partial sums while they cannot
  // overflow (8-bit weights, blocks up to 255 inputs), else int64.
  bool narrow = w.dtype == DType::I8 && B <= 255;
  const int8_t *w8 = static_cast<const int8_t *>(w.data);
  const int16_t *w16 = static_cast<const int16_t *>(w.data);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k)
      xr[size_t(k)] = loadInt(x, m * K + k) - xz;
    for (int64_t c = 0; c < N; ++c) {
      double sum = 0;
      for (int64_t b = 0; b < nb; ++b) {
        int64_t a = 0;
        const int32_t *xb = xr.data() + b * B;
        if (narrow) {
          int32_t part = 0;
          const int8_t *wb = w8 + c * K + b * B;
          for (int64_t k = 0; k < B; ++k)
            part += xb[k] * int32_t(wb[k]);
          a = part;
        } else {
          for (int64_t k = 0; k < B; ++k)
            a += int64_t(xb[k]) * int64_t(w.dtype == DType::I8 ? int32_t(w8[c * K + b * B + k])
                                                               : int32_t(w16[c * K + b * B + k]));
        }
        double ws = w.quant->count == 1 ? w.quant->scales[0] : w.quant->scales[c * nb + b];
        sum += double(a) * (xs * ws);
      }
      if (bias)
        sum += double(static_cast<const float *>(bias->data)[c]);
      int64_t i = m * N + c;
      if (!intOut) {
        static_cast<float *>(o.data)[i] = float(sum);
      } else {
        int64_t oc = o.quant->count > 1 ? c : 0;
        storeInt(o, i, quantizeValue(float(sum), o.quant->scales[oc],
                                     o.quant->zeroPoints ? int32_t(o.quant->zeroPoints[oc]) : 0,
                                     ylo, yhi));
      }
    }
  }
  return Status::success();
}

/// The integer linear of include/mu/runtime/Integer.h (the spec), one row at
/// a time: exact int64 accumulators, then requantization (integer output) or
/// scaling by x_scale * w_scale[c] (f32 output).
Status linearInteger(const mub::Instr &in, const std::vector<const TensorRef *> &ins, TensorRef &o) {
  const TensorRef &x = *ins[0], &w = *ins[1];
  if (w.quant->blockSize > 0)
    return linearIntegerBlocked(ins, o);
  const TensorRef *bias = ins[2];
  int64_t K = w.shape[1], N = w.shape[0], M = x.numel() / std::max<int64_t>(K, 1);
  double xs = x.quant->scales[0];
  int32_t xz = x.quant->zeroPoints ? int32_t(x.quant->zeroPoints[0]) : 0;
  auto wScale = [&](int64_t c) { return double(w.quant->scales[w.quant->count == 1 ? 0 : c]); };
  std::vector<int32_t> b32;
  if (bias) {
    b32.resize(size_t(N));
    for (int64_t c = 0; c < N; ++c)
      b32[size_t(c)] = loadInt(*bias, c);
  }
  bool intOut = o.dtype != DType::F32;
  std::vector<FixedPointMultiplier> mult;
  std::vector<double> realScale(static_cast<size_t>(N));
  int32_t ylo = 0, yhi = 0;
  std::vector<int32_t> yz(static_cast<size_t>(N), 0);
  if (intOut) {
    storageRange(o, ylo, yhi);
    bool perChannel = o.quant->count > 1;
    mult.resize(size_t(N));
    for (int64_t c = 0; c < N; ++c) {
      int64_t oc = perChannel ? c : 0;
      yz[size_t(c)] = o.quant->zeroPoints ? int32_t(o.quant->zeroPoints[oc]) : 0;
      if (!quantizeMultiplier(xs * wScale(c) / double(o.quant->scales[oc]), mult[size_t(c)]))
        return fail(in, "requantization multiplier of channel " + std::to_string(c) +
                            " is out of range");
    }
  } else {
    for (int64_t c = 0; c < N; ++c)
      realScale[size_t(c)] = xs * wScale(c);
  }
  std::vector<int32_t> xr(static_cast<size_t>(K));
  std::vector<int64_t> acc(static_cast<size_t>(N));
  for (int64_t m = 0; m < M; ++m) {
    if (x.dtype == DType::I8)
      std::copy_n(static_cast<const int8_t *>(x.data) + m * K, K, xr.begin());
    else if (x.dtype == DType::I16)
      std::copy_n(static_cast<const int16_t *>(x.data) + m * K, K, xr.begin());
    else
      for (int64_t k = 0; k < K; ++k)
        xr[size_t(k)] = loadInt(x, m * K + k);
    if (w.dtype == DType::I8)
      linearAcc(xr.data(), 1, K, xz, static_cast<const int8_t *>(w.data), N,
                bias ? b32.data() : nullptr, acc.data());
    else
      linearAcc(xr.data(), 1, K, xz, static_cast<const int16_t *>(w.data), N,
                bias ? b32.data() : nullptr, acc.data());
    for (int64_t c = 0; c < N; ++c) {
      if (intOut)
        storeInt(o, m * N + c, requantize(acc[size_t(c)], mult[size_t(c)], yz[size_t(c)], ylo, yhi));
      else
        static_cast<float *>(o.data)[m * N + c] = float(double(acc[size_t(c)]) * realScale[size_t(c)]);
    }
  }
  return Status::success();
}

/// Runs f(begin, end) over [0, n) split into contiguous ranges, one per
/// pool thread when there are at least `grain` items per thread. Every item
/// is computed by the same code whatever the split: results are identical.
template <typename F> void parallelRanges(ThreadPool *pool, int64_t n, int64_t grain, F f) {
  int threads = pool ? pool->size() : 1;
  int64_t tasks = std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1));
  if (tasks <= 1) {
    f(int64_t(0), n);
    return;
  }
  pool->run(int(tasks), [&](int i) { f(n * i / tasks, n * (i + 1) / tasks); });
}

} // namespace

Status execute(const mub::Instr &in, const std::vector<const TensorRef *> &ins,
               const std::vector<TensorRef *> &outs, Scratch &scratch) {
  OpCode op = in.op();
  std::vector<int64_t> ints = intsOf(in);
  if (isBinary(op))
    return binary(in, *ins[0], *ins[1], *outs[0]);
  if (op == OpCode::GeluTanh && ins[0]->dtype == DType::F32 && outs[0]->dtype == DType::F32) {
    // The FFN activation of GELU models (Mu): f32 through the kernel table,
    // the same bits in every family (cpu/FastMath.h).
    cpu::GeluTanhFn gelu = cpu::kernels(activeIsa()).geluTanh;
    if (!gelu)
      gelu = cpu::geluTanhPortable;
    const float *x = static_cast<const float *>(ins[0]->data);
    float *y = static_cast<float *>(outs[0]->data);
    parallelRanges(scratch.pool, outs[0]->numel(), 4096,
                   [&](int64_t b, int64_t e) { gelu(x + b, y + b, e - b); });
    return Status::success();
  }
  if (isUnary(op))
    return unary(in, *ins[0], *outs[0]);
  TensorRef &o = *outs[0];
  switch (op) {
  case OpCode::Where: {
    std::vector<std::vector<int64_t>> st = {broadcastStrides(ins[0]->shape, o.shape),
                                            broadcastStrides(ins[1]->shape, o.shape),
                                            broadcastStrides(ins[2]->shape, o.shape)};
    size_t es = dtypeSize(o.dtype);
    const uint8_t *c = static_cast<const uint8_t *>(ins[0]->data);
    forEachBroadcast(o.shape, st, [&](int64_t i, const std::vector<int64_t> &off) {
      const TensorRef &src = c[off[0]] ? *ins[1] : *ins[2];
      int64_t so = c[off[0]] ? off[1] : off[2];
      std::memcpy(static_cast<uint8_t *>(o.data) + i * es,
                  static_cast<const uint8_t *>(src.data) + so * es, es);
    });
    return Status::success();
  }
  case OpCode::Cast: {
    int64_t n = o.numel();
    if (ins[0]->dtype == o.dtype) {
      std::memcpy(o.data, ins[0]->data, o.bytes());
    } else if (ins[0]->dtype == DType::F16 && o.dtype == DType::F32) {
      const uint16_t *s = static_cast<const uint16_t *>(ins[0]->data);
      const float *tab = halfTable();
      float *d = static_cast<float *>(o.data);
      for (int64_t i = 0; i < n; ++i) d[i] = tab[s[i]];
    } else {
      for (int64_t i = 0; i < n; ++i) storeD(o, i, loadD(*ins[0], i));
    }
    return Status::success();
  }
  case OpCode::Reshape:
    if (o.data != ins[0]->data)
      std::memcpy(o.data, ins[0]->data, o.bytes());
    return Status::success();
  case OpCode::BroadcastTo:
    gatherCopy(*ins[0], o, broadcastStrides(ins[0]->shape, o.shape));
    return Status::success();
  case OpCode::Transpose: {
    std::vector<int64_t> src = contiguousStrides(ins[0]->shape), st(ints.size());
    for (size_t i = 0; i < ints.size(); ++i)
      st[i] = src[ints[i]];
    gatherCopy(*ins[0], o, st);
    return Status::success();
  }
  case OpCode::Concat: {
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], o.shape.size());
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= o.shape[i];
    for (size_t i = axis + 1; i < o.shape.size(); ++i) inner *= o.shape[i];
    size_t es = dtypeSize(o.dtype);
    int64_t offset = 0;
    for (const TensorRef *t : ins) {
      int64_t len = t->shape[axis];
      for (int64_t b = 0; b < outer; ++b)
        std::memcpy(static_cast<uint8_t *>(o.data) + ((b * o.shape[axis] + offset) * inner) * es,
                    static_cast<const uint8_t *>(t->data) + (b * len * inner) * es, len * inner * es);
      offset += len;
    }
    return Status::success();
  }
  case OpCode::Slice: {
    const Shape &is = ins[0]->shape;
    std::vector<int64_t> src = contiguousStrides(is), st = src;
    int64_t base = 0, n = ints[0];
    for (int64_t i = 0; i < n; ++i) {
      int64_t ax = normAxis(ints[1 + i], is.size()), dim = is[ax], step = ints[1 + 3 * n + i];
      int64_t s = ints[1 + n + i];
      if (s < 0) s += dim;
      s = step > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, -1, dim - 1);
      base += s * src[ax];
      st[ax] = src[ax] * step;
    }
    gatherCopy(*ins[0], o, st, base);
    return Status::success();
  }
  case OpCode::Split: {
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], ins[0]->shape.size());
    std::vector<int64_t> src = contiguousStrides(ins[0]->shape);
    int64_t offset = 0;
    for (TensorRef *t : outs) {
      gatherCopy(*ins[0], *t, src, offset * src[axis]);
      offset += t->shape[axis];
    }
    return Status::success();
  }
  case OpCode::Gather: {
    const TensorRef &data = *ins[0], &idx = *ins[1];
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], data.shape.size());
    int64_t outer = 1, inner = 1, dim = data.shape[axis];
    for (int64_t i = 0; i < axis; ++i) outer *= data.shape[i];
    for (size_t i = axis + 1; i < data.shape.size(); ++i) inner *= data.shape[i];
    int64_t ni = idx.numel();
    size_t es = dtypeSize(data.dtype);
    // Quantized or converting tables are read element by element (dequantize
    // / convert); same-dtype tables copy whole slices.
    bool convert = data.quant || data.dtype != o.dtype;
    if (data.layout == Layout::I8N16K4) {
      // Rows of a packed [n, k] table (a tied embedding that is also the
      // packed LM head): unpack each row, then dequantize like any row.
      int64_t n = data.shape[0], k = data.shape[1];
      std::vector<int8_t> row(static_cast<size_t>(k));
      for (int64_t j = 0; j < ni; ++j) {
        int64_t r = loadI(idx, j);
        if (r < 0) r += n;
        if (r < 0 || r >= n)
          return fail(in, "index " + std::to_string(loadI(idx, j)) + " out of range [0, " + std::to_string(n) + ")");
        // One row viewed as a [1, k] tensor with that row's scale.
        double scale = data.quant->scales[data.quant->count > 1 ? r : 0];
        if (o.dtype == DType::F16 || o.dtype == DType::F32) {
          cpu::packedRowI8(static_cast<const uint8_t *>(data.data), n, k, r, scale, row.data(),
                           o.dtype == DType::F32 ? static_cast<float *>(o.data) + j * k : nullptr,
                           o.dtype == DType::F16 ? static_cast<uint16_t *>(o.data) + j * k : nullptr);
          continue;
        }
        unpackI8Row(static_cast<const uint8_t *>(data.data), n, k, r, row.data());
        for (int64_t e = 0; e < k; ++e)
          storeD(o, j * k + e, double(row[size_t(e)]) * scale);
      }
      return Status::success();
    }
    // Row-wise fast paths with loadD's arithmetic: f16 rows widened to f32,
    // int8 rows with one scale per row (per tensor, or per channel of the
    // gathered axis 0).
    bool f16Rows = data.dtype == DType::F16 && !data.quant && o.dtype == DType::F32;
    bool i8Rows = data.dtype == DType::I8 && data.quant && o.dtype == DType::F32 &&
                  data.quant->blockSize == 0 &&
                  (data.quant->axis < 0 || (data.quant->axis == 0 && axis == 0));
    for (int64_t b = 0; b < outer; ++b)
      for (int64_t j = 0; j < ni; ++j) {
        int64_t k = loadI(idx, j);
        if (k < 0) k += dim;
        if (k < 0 || k >= dim)
          return fail(in, "index " + std::to_string(loadI(idx, j)) + " out of range [0, " + std::to_string(dim) + ")");
        int64_t dst = (b * ni + j) * inner, src = (b * dim + k) * inner;
        if (convert && f16Rows) {
          const float *tab = halfTable();
          const uint16_t *from = static_cast<const uint16_t *>(data.data) + src;
          float *to = static_cast<float *>(o.data) + dst;
          for (int64_t e = 0; e < inner; ++e)
            to[e] = tab[from[e]];
        } else if (convert && i8Rows) {
          double scale, zp;
          quantOf(data, src, scale, zp);
          cpu::dequantRowI8(static_cast<const int8_t *>(data.data) + src, inner, scale, zp,
                            static_cast<float *>(o.data) + dst);
        } else if (convert)
          for (int64_t e = 0; e < inner; ++e)
            storeD(o, dst + e, loadD(data, src + e));
        else
          std::memcpy(static_cast<uint8_t *>(o.data) + dst * es,
                      static_cast<const uint8_t *>(data.data) + src * es, inner * es);
      }
    return Status::success();
  }
  case OpCode::Range: {
    double s = loadD(*ins[0], 0), d = loadD(*ins[2], 0);
    for (int64_t i = 0, n = o.numel(); i < n; ++i)
      storeD(o, i, s + double(i) * d);
    return Status::success();
  }
  case OpCode::Dim: {
    int64_t axis = normAxis(ints.empty() ? 0 : ints[0], ins[0]->shape.size());
    *static_cast<int64_t *>(o.data) = ins[0]->shape[axis];
    return Status::success();
  }
  case OpCode::ReduceSum: case OpCode::ReduceMean: case OpCode::ReduceMax:
  case OpCode::ReduceMin: {
    const Shape &is = ins[0]->shape;
    std::vector<bool> red(is.size(), ints.size() <= 1);
    for (size_t i = 1; i < ints.size(); ++i)
      red[normAxis(ints[i], is.size())] = true;
    Shape keep(is.size());
    for (size_t i = 0; i < is.size(); ++i)
      keep[i] = red[i] ? 1 : is[i];
    std::vector<int64_t> st = broadcastStrides(keep, is);
    int64_t n = o.numel();
    std::vector<double> acc(n, op == OpCode::ReduceMax ? -INFINITY : op == OpCode::ReduceMin ? INFINITY : 0.0);
    int64_t count = ins[0]->numel() / std::max<int64_t>(n, 1);
    forEachBroadcast(is, {st}, [&](int64_t i, const std::vector<int64_t> &off) {
      double v = loadD(*ins[0], i);
      double &a = acc[off[0]];
      if (op == OpCode::ReduceMax) a = std::max(a, v);
      else if (op == OpCode::ReduceMin) a = std::min(a, v);
      else a += v;
    });
    for (int64_t i = 0; i < n; ++i)
      storeD(o, i, op == OpCode::ReduceMean ? acc[i] / count : acc[i]);
    return Status::success();
  }
  case OpCode::Softmax: {
    const Shape &is = ins[0]->shape;
    int64_t axis = normAxis(ints.empty() ? -1 : ints[0], is.size());
    int64_t outer = 1, inner = 1, dim = is[axis];
    for (int64_t i = 0; i < axis; ++i)
      outer *= is[i];
    for (size_t i = axis + 1; i < is.size(); ++i)
      inner *= is[i];
    const float *x = static_cast<const float *>(ins[0]->data);
    float *y = static_cast<float *>(o.data);
    for (int64_t b = 0; b < outer; ++b)
      for (int64_t j = 0; j < inner; ++j) {
        const float *xr = x + b * dim * inner + j;
        float *yr = y + b * dim * inner + j;
        float mx = -INFINITY;
        for (int64_t t = 0; t < dim; ++t)
          mx = std::max(mx, xr[t * inner]);
        double sum = 0;
        for (int64_t t = 0; t < dim; ++t) {
          double e = std::isinf(mx) ? 0.0 : std::exp(double(xr[t * inner]) - mx);
          yr[t * inner] = float(e);
          sum += e;
        }
        for (int64_t t = 0; t < dim; ++t)
          yr[t * inner] = float(yr[t * inner] / sum);
      }
    return Status::success();
  }
  case OpCode::RmsNorm:
  case OpCode::LayerNorm: {
    const TensorRef &x = *ins[0];
    const TensorRef *w = ins[1], *bias = op == OpCode::LayerNorm ? ins[2] : nullptr;
    float eps = floatAt(in, 0, 1e-5f);
    int64_t d = x.shape.back(), rows = x.numel() / std::max<int64_t>(d, 1);
    std::vector<float> wb, bb;
    const float *wr = w ? floatRow(*w, 0, d, wb) : nullptr;
    const float *br = bias ? floatRow(*bias, 0, d, bb) : nullptr;
    const float *px = static_cast<const float *>(x.data);
    float *py = static_cast<float *>(o.data);
    parallelRanges(scratch.pool, rows, 8, [&](int64_t r0, int64_t r1) {
      cpu::normRows(px, wr, br, py, r0, r1, d, eps, op == OpCode::LayerNorm);
    });
    return Status::success();
  }
  case OpCode::MatMul: {
    const TensorRef &a = *ins[0], &b = *ins[1];
    Shape as = a.shape, bs = b.shape;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
    Shape batch(o.shape.begin(), o.shape.end() - (a.shape.size() == 1 ? 0 : 1) - (b.shape.size() == 1 ? 0 : 1));
    Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    std::vector<std::vector<int64_t>> st = {broadcastStrides(ab, batch), broadcastStrides(bb, batch)};
    std::vector<float> arow, bcol;
    float *po = static_cast<float *>(o.data);
    forEachBroadcast(batch, st, [&](int64_t bi, const std::vector<int64_t> &off) {
      for (int64_t m = 0; m < M; ++m) {
        const float *ar = floatRow(a, (off[0] * M + m) * K, K, arow);
        for (int64_t n = 0; n < N; ++n) {
          double s = 0;
          for (int64_t k = 0; k < K; ++k)
            s += double(ar[k]) * loadD(b, (off[1] * K + k) * N + n);
          po[(bi * M + m) * N + n] = float(s);
        }
      }
    });
    return Status::success();
  }
  case OpCode::Quantize: case OpCode::Dequantize:
    if (!cpu::fastConvertQuant(op == OpCode::Quantize, *ins[0], o, scratch.pool))
      convertQuant(op, *ins[0], o);
    return Status::success();
  case OpCode::Lora: {
    // base + B (A x) with the session adapter's matrices for this site.
    const float *x = static_cast<const float *>(ins[0]->data);
    const float *y = static_cast<const float *>(ins[1]->data);
    float *r = static_cast<float *>(o.data);
    if (r != y)
      std::memcpy(r, y, o.bytes());
    const Adapter *ad = scratch.adapter;
    size_t site = size_t(ints[0]);
    if (!ad || site >= ad->sites().size() || ad->sites()[site].rank == 0)
      return Status::success();
    const Adapter::Site &s = ad->sites()[site];
    int64_t nin = ins[0]->shape.back(), nout = o.shape.back(), rank = s.rank;
    const Model::LoraSite &bs = ad->base().loraSites()[site];
    if (nin != bs.in || nout != bs.out)
      return fail(in, "operands [..., " + std::to_string(nin) + "] -> [..., " +
                             std::to_string(nout) + "] do not match LoRA site '" + bs.name + "'");
    int64_t rows = nin ? ins[0]->numel() / nin : 0;
    float *t = scratch.floats(size_t(rank));
    for (int64_t i = 0; i < rows; ++i) {
      const float *xi = x + i * nin;
      for (int64_t k = 0; k < rank; ++k) {
        const float *ak = s.a + k * nin;
        float acc = 0;
        for (int64_t j = 0; j < nin; ++j)
          acc += ak[j] * xi[j];
        t[k] = acc;
      }
      float *ri = r + i * nout;
      for (int64_t c = 0; c < nout; ++c) {
        const float *bc = s.b + c * rank;
        float acc = 0;
        for (int64_t k = 0; k < rank; ++k)
          acc += bc[k] * t[k];
        ri[c] += acc;
      }
    }
    return Status::success();
  }
  case OpCode::Round: {
    // A target's float precision (NPUs computing float regions in FP16 or
    // BF16): round to nearest even, as the IEEE conversion; NaN stays NaN.
    const float *x = static_cast<const float *>(ins[0]->data);
    float *y = static_cast<float *>(o.data);
    int64_t n = o.numel();
    if (ints[0] == 1) {
      if (cpu::RoundF16Fn f = cpu::kernels(activeIsa()).roundF16) {
        parallelRanges(scratch.pool, n, 16384, [&](int64_t b, int64_t e) { f(x + b, y + b, e - b); });
        return Status::success();
      }
      const float *tab = halfTable();
      for (int64_t i = 0; i < n; ++i)
        y[i] = tab[floatToHalf(x[i])];
    } else {
      for (int64_t i = 0; i < n; ++i) {
        uint32_t b;
        std::memcpy(&b, &x[i], 4);
        if ((b & 0x7fffffffu) > 0x7f800000u)
          b |= 0x00400000u; // quiet NaN, payload kept
        else
          b += 0x7fffu + ((b >> 16) & 1u);
        b &= 0xffff0000u;
        std::memcpy(&y[i], &b, 4);
      }
    }
    return Status::success();
  }
  case OpCode::Linear: {
    const TensorRef &x = *ins[0], &w = *ins[1];
    const TensorRef *bias = ins[2];
    if (cpu::fastIntegerLinear(x, w, bias, o)) {
      std::string err = cpu::integerLinear(x, w, bias, o, scratch.linearPlans[&in], scratch.pool);
      return err.empty() ? Status::success() : fail(in, err);
    }
    if (isQuantInt(x) && cpu::packableRowMajorWeight(w)) {
      // A target layout the CPU kernels do not read (row-major int8, as
      // hexagon-htp stores it): packed once per session, then the same fast
      // kernels, bit-exact with the reference below.
      cpu::PackedWeight &pw = scratch.packedWeights[w.data];
      int64_t N = w.shape[0], K = w.shape[1];
      if (!pw.tried) {
        pw.tried = true;
        pw.bytes.assign(size_t(packedI8Bytes(N, K)), 0);
        if (!packI8N16K4(static_cast<const int8_t *>(w.data), N, K, pw.bytes.data()))
          std::vector<uint8_t>().swap(pw.bytes);
      }
      TensorRef wp = w;
      wp.layout = Layout::I8N16K4;
      wp.data = pw.bytes.data();
      if (!pw.bytes.empty() && cpu::fastIntegerLinear(x, wp, bias, o)) {
        std::string err =
            cpu::integerLinear(x, wp, bias, o, scratch.linearPlans[&in], scratch.pool);
        return err.empty() ? Status::success() : fail(in, err);
      }
    }
    if (isQuantInt(*ins[0]))
      return linearInteger(in, ins, o);
    if (cpu::fastFloatLinear(x, w, bias, o)) {
      cpu::floatLinear(x, w, bias, o, scratch.pool);
      return Status::success();
    }
    int64_t K = w.shape[1], N = w.shape[0], M = x.numel() / std::max<int64_t>(K, 1);
    const float *px = static_cast<const float *>(x.data);
    float *po = static_cast<float *>(o.data);
    std::vector<float> wrow, brow;
    const float *br = bias ? floatRow(*bias, 0, N, brow) : nullptr;
    for (int64_t n = 0; n < N; ++n) {
      const float *wr = floatRow(w, n * K, K, wrow);
      for (int64_t m = 0; m < M; ++m) {
        const float *xr = px + m * K;
        // Eight partial sums: vectorizable, and the same order everywhere.
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 8 <= K; k += 8)
          for (int j = 0; j < 8; ++j)
            acc[j] += xr[k + j] * wr[k + j];
        float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; k < K; ++k)
          s += xr[k] * wr[k];
        po[m * N + n] = br ? s + br[n] : s;
      }
    }
    return Status::success();
  }
  case OpCode::Glu: {
    int64_t kind = ints.empty() ? 0 : ints[0], n = o.numel();
    const float *g = static_cast<const float *>(ins[0]->data), *u = static_cast<const float *>(ins[1]->data);
    float *y = static_cast<float *>(o.data);
    // SwiGLU (kind 0) in f32 through the kernel table (cpu/FastMath.h: the
    // same bits in every family); GELU and ReLU gates in double.
    cpu::SiluMulFn silu = cpu::kernels(activeIsa()).siluMul;
    if (!silu)
      silu = cpu::siluMulPortable;
    parallelRanges(scratch.pool, n, 512, [&](int64_t b, int64_t e) {
      if (kind == 0)
        return silu(g + b, u + b, y + b, e - b);
      for (int64_t i = b; i < e; ++i)
        y[i] = float(activation(kind, g[i]) * u[i]);
    });
    return Status::success();
  }
  case OpCode::Rope: {
    const TensorRef &x = *ins[0], &c = *ins[1], &s = *ins[2];
    bool interleaved = !ints.empty() && ints[0] == 1;
    int64_t d = x.shape.back(), h = d / 2;
    // Fast path: f32 tables of shape [S, D] (leading 1s allowed) shared by
    // every head, the layout the compiler emits. Same arithmetic.
    auto tableOk = [&](const TensorRef &t) {
      if (t.dtype != DType::F32 || t.shape.size() < 2 || t.shape.size() > x.shape.size())
        return false;
      for (size_t i = 0; i + 2 < t.shape.size(); ++i)
        if (t.shape[i] != 1)
          return false;
      return t.shape[t.shape.size() - 1] == d &&
             t.shape[t.shape.size() - 2] == x.shape[x.shape.size() - 2];
    };
    if (tableOk(c) && tableOk(s) && x.shape.size() >= 2) {
      int64_t S = x.shape[x.shape.size() - 2], rows = x.numel() / std::max<int64_t>(S * d, 1);
      const float *px = static_cast<const float *>(x.data), *pc = static_cast<const float *>(c.data),
                  *ps = static_cast<const float *>(s.data);
      float *py = static_cast<float *>(o.data);
      cpu::ropeRows(px, pc, ps, py, rows, S, d, interleaved);
      return Status::success();
    }
    std::vector<std::vector<int64_t>> st = {broadcastStrides(c.shape, x.shape), broadcastStrides(s.shape, x.shape)};
    const float *px = static_cast<const float *>(x.data);
    float *py = static_cast<float *>(o.data);
    forEachBroadcast(x.shape, st, [&](int64_t i, const std::vector<int64_t> &off) {
      int64_t j = i % d, rowBase = i - j;
      float rot;
      if (interleaved)
        rot = (j % 2 == 0) ? -px[rowBase + j + 1] : px[rowBase + j - 1];
      else
        rot = j < h ? -px[rowBase + j + h] : px[rowBase + j - h];
      py[i] = float(double(px[i]) * loadD(c, off[0]) + double(rot) * loadD(s, off[1]));
    });
    return Status::success();
  }
  case OpCode::Attention:
    if (!ins[4] && outs.size() == 1) {
      // No cache: keys/values are the inputs themselves.
      bool causal = in.ints() && in.ints()->size() > 0 && in.ints()->Get(0) != 0;
      if (cpu::fastAttention(*ins[0], *ins[1], *ins[2], ins[3], floatAt(in, 0, 1.0f), causal, o,
                             scratch.pool))
        return Status::success();
    }
    return attention(in, ins, outs, scratch);
  default:
    return fail(in, "not implemented by the reference runtime");
  }
}

} // namespace rt
} // namespace mu
