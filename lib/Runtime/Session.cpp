//===- Session.cpp - executing programs -----------------------------------===//
///
/// \file
/// The interpreter: binds every tensor of a program to its storage (arena
/// slot, constant segment, persistent state or caller input), then runs the
/// instructions in order. Shapes are computed per instruction (dynamic dims
/// are resolved at run time) and checked against the planned capacity before
/// a kernel writes anything.
///
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "mu/runtime/Runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>

namespace mu {
namespace rt {

struct Session::Impl {
  /// Activation memory per program. Not zero-filled: every tensor is
  /// written before it is read (the interpreter checks), so a large prefill
  /// arena costs only the pages a call touches.
  struct Arena {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
  };
  std::map<std::string, Arena> arenas;
  std::vector<std::vector<uint8_t>> states;
  /// Per state, the prefix of bytes written since it was last zeroed: a
  /// state holds its current shape contiguously from byte 0, so resetState
  /// zeroes only what a sequence used, not the whole max context.
  std::vector<size_t> stateDirty;
  /// Current shape of each state (e.g. the KV cache length so far).
  std::vector<std::vector<int64_t>> stateShapes;
  Scratch scratch;
  std::unique_ptr<ThreadPool> pool;
  /// Per program: the tensor table, rebound on every run (see runProgram).
  struct Bound {
    std::vector<TensorRef> t;
    std::vector<QuantInfo> quant;
    std::vector<bool> ready; ///< constants: ready before any instruction
  };
  std::map<std::string, Bound> bound;
  bool profiling = false;
  std::map<int, std::pair<uint64_t, double>> opTime; ///< opcode -> calls, ms
  double runMs = 0;                                   ///< whole run() calls
};

namespace {
std::atomic<int> gDefaultThreads{0};
} // namespace

void setDefaultThreads(int n) { gDefaultThreads = n > 0 ? n : 0; }

Session::Session(const Model &model, const SessionOptions &options)
    : model_(model), impl_(new Impl()) {
  int threads = options.threads > 0     ? options.threads
                : gDefaultThreads > 0 ? gDefaultThreads.load()
                                      : physicalCores();
  if (threads > 1) {
    impl_->pool.reset(new ThreadPool(threads));
    impl_->scratch.pool = impl_->pool.get();
  }
  if (const auto *states = model.fb().states())
    for (const mub::StateBuffer *s : *states) {
      try {
        impl_->states.emplace_back(size_t(s->size()), 0);
      } catch (const std::bad_alloc &) {
        impl_->states.emplace_back(); // reported by run(): state too small
      }
    }
  for (auto &s : impl_->states)
    peakBytes_ += s.size();
  resetState();
}

Session::~Session() = default;

int Session::threads() const { return impl_->pool ? impl_->pool->size() : 1; }

Status Session::setAdapter(const std::string &name) {
  if (name.empty())
    return setAdapter(static_cast<const Adapter *>(nullptr));
  if (const Adapter *a = model_.adapter(name))
    return setAdapter(a);
  std::string have;
  for (const std::string &n : model_.adapterNames())
    have += (have.empty() ? "" : ", ") + n;
  return Status::error(model_.path() + ": no adapter named '" + name + "' (" +
                       (have.empty() ? std::string("the artifact embeds none")
                                     : "it embeds: " + have) +
                       ")");
}

Status Session::setAdapter(const Adapter *adapter) {
  if (adapter && &adapter->base() != &model_)
    return Status::error("adapter '" + adapter->name() + "' belongs to another model (" +
                         adapter->base().path() + ")");
  impl_->scratch.adapter = adapter;
  return Status::success();
}

const Adapter *Session::adapter() const { return impl_->scratch.adapter; }

void Session::resetState() {
  impl_->stateDirty.resize(impl_->states.size(), 0);
  for (size_t k = 0; k < impl_->states.size(); ++k) {
    auto &st = impl_->states[k];
    std::fill(st.begin(), st.begin() + std::min(impl_->stateDirty[k], st.size()), 0);
    impl_->stateDirty[k] = 0;
  }
  impl_->stateShapes.clear();
  if (const auto *states = model_.fb().states())
    for (const mub::StateBuffer *s : *states) {
      // Empty along the dims that grow (the sequence): recorded by the
      // programs' state tensors as -1; start every state at length 0 there.
      std::vector<int64_t> shape(s->max_shape()->begin(), s->max_shape()->end());
      impl_->stateShapes.push_back(shape);
    }
  for (const mub::Program *p : *model_.fb().programs())
    for (const mub::Tensor *t : *p->tensors())
      if (t->storage() == mub::Storage::State)
        for (uint32_t d = 0; d < t->shape()->size(); ++d)
          if (t->shape()->Get(d) < 0)
            impl_->stateShapes[t->state()][d] = 0;
}

size_t Session::stateLength(int state, int dim) const {
  if (state < 0 || size_t(state) >= impl_->stateShapes.size() ||
      dim >= int(impl_->stateShapes[state].size()))
    return 0;
  return size_t(impl_->stateShapes[state][dim]);
}

namespace {
std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}
} // namespace

void Session::setProfiling(bool on) {
  impl_->profiling = on;
  impl_->opTime.clear();
  impl_->runMs = 0;
}

std::vector<Session::OpProfile> Session::profile() const {
  std::vector<OpProfile> r;
  double kernels = 0;
  for (auto &[op, v] : impl_->opTime) {
    r.push_back({mub::EnumNameOpCode(mub::OpCode(op)), v.first, v.second});
    kernels += v.second;
  }
  std::sort(r.begin(), r.end(), [](const OpProfile &a, const OpProfile &b) { return a.ms > b.ms; });
  if (impl_->runMs > 0)
    r.push_back({"(interpreter)", 0, std::max(0.0, impl_->runMs - kernels)});
  return r;
}

Status Session::run(const std::string &name, const std::vector<TensorRef> &inputs,
                    std::vector<HostTensor> &outputs) {
  if (!impl_->profiling)
    return runProgram(name, inputs, outputs);
  auto t0 = std::chrono::steady_clock::now();
  Status s = runProgram(name, inputs, outputs);
  impl_->runMs += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

Status Session::runProgram(const std::string &name, const std::vector<TensorRef> &inputs,
                           std::vector<HostTensor> &outputs) {
  const mub::Program *p = model_.program(name);
  if (!p)
    return Status::error("no program named '" + name + "'");
  auto &arena = impl_->arenas[name];
  if (arena.size < p->arena_size() + 64) {
    size_t n = size_t(p->arena_size()) + 64;
    arena.data.reset(new (std::nothrow) uint8_t[n]);
    arena.size = arena.data ? n : 0;
    if (!arena.data)
      return Status::error("program '" + name + "': cannot allocate its " +
                           std::to_string(p->arena_size()) + "-byte arena");
    size_t total = 0;
    for (auto &a : impl_->arenas)
      total += a.second.size;
    for (auto &s : impl_->states)
      total += s.size();
    peakBytes_ = std::max(peakBytes_, total);
  }
  // 64-byte aligned base inside the vector.
  uint8_t *abase =
      arena.data.get() + ((64 - reinterpret_cast<uintptr_t>(arena.data.get()) % 64) % 64);

  int nt = int(p->tensors()->size());
  // The tensor table of a program is built once per session (dtypes,
  // quantization, constants); each run only rebinds shapes and storage, in
  // place, so a decode step allocates nothing here.
  Impl::Bound &bound = impl_->bound[name];
  if (bound.t.size() != size_t(nt)) {
    bound.t.assign(size_t(nt), TensorRef());
    bound.quant.assign(size_t(nt), QuantInfo());
    bound.ready.assign(size_t(nt), false);
    for (int i = 0; i < nt; ++i) {
      const mub::Tensor *d = p->tensors()->Get(i);
      TensorRef &ti = bound.t[size_t(i)];
      ti.dtype = DType(d->dtype());
      if (const mub::QuantParams *q = d->quant()) {
        QuantInfo &qi = bound.quant[size_t(i)];
        qi.scales = q->scale()->data();
        qi.count = q->scale()->size();
        qi.zeroPoints = q->zero_point() && q->zero_point()->size() ? q->zero_point()->data() : nullptr;
        qi.axis = q->axis();
        qi.blockSize = q->block_size();
        qi.qmin = q->qmin();
        qi.qmax = q->qmax();
        ti.quant = &qi;
      }
      if (d->storage() == mub::Storage::Constant) {
        ti.shape.assign(d->shape()->begin(), d->shape()->end());
        ti.data = const_cast<uint8_t *>(model_.segmentData(d->segment()) + d->offset());
        ti.layout = Layout(d->layout());
        bound.ready[size_t(i)] = true;
      }
    }
  }
  std::vector<TensorRef> &t = bound.t;
  std::vector<bool> ready = bound.ready;
  for (int i = 0; i < nt; ++i) {
    const mub::Tensor *d = p->tensors()->Get(i);
    switch (d->storage()) {
    case mub::Storage::Arena:
    case mub::Storage::Output:
      t[i].shape.assign(d->shape()->begin(), d->shape()->end());
      t[i].data = abase + d->offset();
      break;
    case mub::Storage::Constant:
      break;
    case mub::Storage::State:
      if (impl_->states[d->state()].size() < model_.fb().states()->Get(d->state())->size())
        return Status::error("state buffer '" +
                             model_.fb().states()->Get(d->state())->name()->str() +
                             "' could not be allocated");
      t[i].data = impl_->states[d->state()].data();
      t[i].shape.assign(impl_->stateShapes[d->state()].begin(), impl_->stateShapes[d->state()].end());
      ready[i] = true;
      break;
    case mub::Storage::Input:
      t[i].shape.assign(d->shape()->begin(), d->shape()->end());
      break;
    }
  }
  // States carry their current shape across calls: stored in the session.
  size_t nin = p->inputs() ? p->inputs()->size() : 0;
  if (inputs.size() != nin)
    return Status::error("program '" + name + "' takes " + std::to_string(nin) + " inputs, got " +
                         std::to_string(inputs.size()));
  for (size_t k = 0; k < nin; ++k) {
    int id = p->inputs()->Get(k);
    const mub::Tensor *d = p->tensors()->Get(id);
    const TensorRef &in = inputs[k];
    // Named only when there is an error to report: this runs every token.
    auto what = [&] { return "input " + std::to_string(k) + " '" + d->name()->str() + "'"; };
    if (in.dtype != t[id].dtype)
      return Status::error(what() + ": dtype " + dtypeName(in.dtype) + ", expected " + dtypeName(t[id].dtype));
    if (in.shape.size() != t[id].shape.size())
      return Status::error(what() + ": rank " + std::to_string(in.shape.size()) + ", expected " +
                           std::to_string(t[id].shape.size()));
    for (size_t j = 0; j < in.shape.size(); ++j) {
      int64_t want = d->shape()->Get(j), mx = d->max_shape()->Get(j);
      if ((want >= 0 && in.shape[j] != want) || in.shape[j] < 0 || in.shape[j] > mx)
        return Status::error(what() + ": shape " + shapeStr(in.shape) + " does not fit " +
                             shapeStr(t[id].shape) + " (max " +
                             shapeStr(std::vector<int64_t>(d->max_shape()->begin(), d->max_shape()->end())) + ")");
    }
    t[id] = in;
    ready[id] = true;
  }

  std::vector<const TensorRef *> ins;
  std::vector<TensorRef *> outs;
  std::vector<Shape> declared, shapes;
  FILE *index = nullptr;
  if (!dumpDir_.empty())
    index = std::fopen((dumpDir_ + "/index.txt").c_str(), "a");
  for (uint32_t k = 0; k < p->instrs()->size(); ++k) {
    const mub::Instr *in = p->instrs()->Get(k);
    ins.clear();
    outs.clear();
    // Reused in place (no allocation per instruction once warm).
    declared.resize(in->outputs()->size());
    for (int32_t id : *in->inputs()) {
      if (id >= 0 && !ready[id]) {
        if (index) std::fclose(index);
        return Status::error("program '" + name + "' instruction " + std::to_string(k) +
                             " reads tensor " + std::to_string(id) + " before it is written");
      }
      ins.push_back(id < 0 ? nullptr : &t[id]);
    }
    for (uint32_t o = 0; o < in->outputs()->size(); ++o) {
      int32_t id = in->outputs()->Get(o);
      outs.push_back(&t[id]);
      const mub::Tensor *d = p->tensors()->Get(id);
      declared[o].assign(d->shape()->begin(), d->shape()->end());
    }
    Status s = inferShapes(*in, ins, declared, shapes);
    if (!s.ok) {
      if (index) std::fclose(index);
      return Status::error("program '" + name + "' instruction " + std::to_string(k) + ": " + s.message);
    }
    for (size_t o = 0; o < outs.size(); ++o) {
      int32_t id = in->outputs()->Get(o);
      const mub::Tensor *d = p->tensors()->Get(id);
      uint64_t capacity = d->storage() == mub::Storage::State
                              ? model_.fb().states()->Get(d->state())->size()
                              : d->size();
      TensorRef probe{outs[o]->dtype, shapes[o], nullptr};
      if (probe.bytes() > capacity) {
        if (index) std::fclose(index);
        return Status::error("program '" + name + "' instruction " + std::to_string(k) + " (" +
                             mub::EnumNameOpCode(in->op()) + "): result " + shapeStr(shapes[o]) +
                             " exceeds the planned capacity of '" + d->name()->str() +
                             "' (max " + shapeStr(std::vector<int64_t>(d->max_shape()->begin(), d->max_shape()->end())) +
                             "); recompile with a larger --max-seq");
      }
      if (d->storage() == mub::Storage::State)
        impl_->stateDirty[size_t(d->state())] =
            std::max(impl_->stateDirty[size_t(d->state())], size_t(probe.bytes()));
      outs[o]->shape = shapes[o];
      ready[id] = true;
    }
    s = checkOperands(*in, ins, outs);
    if (s.ok) {
      if (impl_->profiling) {
        auto t0 = std::chrono::steady_clock::now();
        s = execute(*in, ins, outs, impl_->scratch);
        auto &slot = impl_->opTime[int(in->op())];
        slot.first++;
        slot.second += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      } else {
        s = execute(*in, ins, outs, impl_->scratch);
      }
    }
    if (!s.ok) {
      if (index) std::fclose(index);
      return Status::error("program '" + name + "' instruction " + std::to_string(k) + ": " + s.message);
    }
    if (observer_)
      for (size_t o = 0; o < outs.size(); ++o)
        observer_(p->tensors()->Get(in->outputs()->Get(o))->name()->str(), *outs[o]);
    if (index) {
      for (size_t o = 0; o < outs.size(); ++o) {
        int32_t id = in->outputs()->Get(o);
        char file[64];
        std::snprintf(file, sizeof(file), "%s.%04u.%d.bin", name.c_str(), k, id);
        if (FILE *f = std::fopen((dumpDir_ + "/" + file).c_str(), "wb")) {
          std::fwrite(outs[o]->data, 1, outs[o]->bytes(), f);
          std::fclose(f);
        }
        std::fprintf(index, "%s %s %s %s %s\n", file, mub::EnumNameOpCode(in->op()),
                     p->tensors()->Get(id)->name()->c_str(), dtypeName(outs[o]->dtype),
                     shapeStr(outs[o]->shape).c_str());
      }
    }
  }
  if (index)
    std::fclose(index);
  // Written states keep their new shapes for the next call.
  for (uint32_t k = 0; k < p->instrs()->size(); ++k)
    for (int32_t id : *p->instrs()->Get(k)->outputs())
      if (p->tensors()->Get(id)->storage() == mub::Storage::State)
        impl_->stateShapes[p->tensors()->Get(id)->state()] = t[id].shape;
  outputs.clear();
  for (int32_t id : *p->outputs()) {
    HostTensor h;
    try {
      h = HostTensor::make(t[id].dtype, t[id].shape);
    } catch (const std::bad_alloc &) {
      return Status::error("program '" + name + "': cannot allocate output '" +
                           p->tensors()->Get(id)->name()->str() + "'");
    }
    std::memcpy(h.storage.data(), t[id].data, h.storage.size());
    outputs.push_back(std::move(h));
  }
  return Status::success();
}

} // namespace rt
} // namespace mu
