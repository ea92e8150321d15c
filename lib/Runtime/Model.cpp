//===- Model.cpp - loading and verifying .mub artifacts -------------------===//
///
/// \file
/// mmap, then check everything before anything runs: header, FlatBuffer
/// structure (flatbuffers::Verifier), then semantics: versions, segments in
/// range and aligned, tensor storage inside its arena/segment/state, shapes
/// consistent with sizes, instruction operands and arities.
///
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "mu/Artifact/MubFormat.h"
#include "mu/runtime/Packing.h"
#include "mu/runtime/Runtime.h"
#include "mua_generated.h"
#include "mub_generated.h"

#include <cmath>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mu {
namespace rt {

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F32: case DType::I32: return 4;
  case DType::F16: case DType::BF16: case DType::I16: case DType::U16: return 2;
  case DType::I64: return 8;
  default: return 1;
  }
}

const char *dtypeName(DType t) {
  static const char *names[] = {"f32", "f16", "bf16", "i64", "i32",
                                "i16", "i8",  "u8",   "bool", "u16"};
  int i = int(t);
  return i >= 0 && i < 10 ? names[i] : "?";
}

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

HostTensor HostTensor::make(DType t, std::vector<int64_t> shape) {
  HostTensor h;
  h.dtype = t;
  h.shape = std::move(shape);
  int64_t n = 1;
  for (int64_t d : h.shape)
    n *= d;
  h.storage.assign(size_t(n) * dtypeSize(t), 0);
  return h;
}

TensorRef HostTensor::ref() { return TensorRef{dtype, shape, storage.data()}; }

std::unique_ptr<Model> Model::load(const std::string &path, Status &status) {
  return load(path, LoadOptions(), status);
}

namespace {
uint64_t addSaturated(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t physicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(1) << 34;
}
std::string mib(uint64_t b) { return std::to_string((b + (1 << 20) - 1) >> 20) + " MiB"; }
/// Maps `path` read-only: a regular file of at least the 64-byte header
/// (`kind` names the format in errors). Errors do not name the path.
Status mapFile(const std::string &path, const char *kind, const uint8_t *&map, size_t &size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error("not a regular file");
  }
  size = size_t(st.st_size);
  if (size < kMubHeaderSize) {
    ::close(fd);
    return Status::error(std::to_string(size) + " bytes is too short for a " + kind +
                         " file (64-byte header)");
  }
  void *p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    return Status::error(std::string("mmap failed: ") + std::strerror(errno));
  map = static_cast<const uint8_t *>(p);
  return Status::success();
}

/// The header fields .mub and .mua share: file size, then the FlatBuffer
/// and data sections within the file, each field named with its byte.
Status checkSections(const MubHeader &h, size_t size) {
  if (h.fileSize != size)
    return Status::error("file is " + std::to_string(size) + " bytes but its header says " +
                         std::to_string(h.fileSize) + " (truncated or padded?)");
  auto badField = [&](const char *field, int byte, uint64_t v, const std::string &why) {
    return Status::error("header " + std::string(field) + " (byte " + std::to_string(byte) +
                         ") is " + std::to_string(v) + ": " + why);
  };
  if (h.flatbufferOffset != kMubHeaderSize)
    return badField("flatbuffer_offset", 8, h.flatbufferOffset, "must be 64");
  if (h.flatbufferSize > size - kMubHeaderSize)
    return badField("flatbuffer_size", 16, h.flatbufferSize, "past the end of the file");
  if (h.dataOffset % kMubAlignment != 0)
    return badField("data_offset", 24, h.dataOffset, "not 64-byte aligned");
  if (h.dataOffset < h.flatbufferOffset + h.flatbufferSize || h.dataOffset > size)
    return badField("data_offset", 24, h.dataOffset,
                    "overlaps the FlatBuffer (which ends at byte " +
                        std::to_string(h.flatbufferOffset + h.flatbufferSize) +
                        ") or lies past the end of the file");
  if (h.dataSize > size - h.dataOffset)
    return badField("data_size", 32, h.dataSize, "past the end of the file");
  return Status::success();
}
} // namespace

std::unique_ptr<Model> Model::load(const std::string &path, const LoadOptions &options,
                                   Status &status) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  if (Status ms = mapFile(path, ".mub", m->base_, m->size_); !ms.ok) {
    status = Status::error(path + ": " + ms.message);
    return nullptr;
  }
  status = m->verify();
  if (!status.ok) {
    status.message = path + ": " + status.message;
    return nullptr;
  }
  uint64_t cap = options.maxRuntimeBytes ? options.maxRuntimeBytes : physicalMemory();
  int threads = options.threads > 0 ? options.threads : physicalCores();
  uint64_t scratch = m->scratchBytes_ > UINT64_MAX / uint64_t(threads)
                         ? UINT64_MAX
                         : m->scratchBytes_ * uint64_t(threads);
  uint64_t total = addSaturated(m->declaredBytes_, scratch);
  if (total > cap) {
    status = Status::error(path + ": the artifact declares " + mib(total) +
                           " of runtime memory (arenas + state " + mib(m->declaredBytes_) +
                           ", kernel scratch " + mib(scratch) + " for " +
                           std::to_string(threads) + " thread" + (threads == 1 ? "" : "s") +
                           "), more than the " + mib(cap) +
                           (options.maxRuntimeBytes ? " allowed (--max-memory)"
                                                    : " of physical memory") +
                           "; recompile with a smaller --max-seq / --max-ctx");
    return nullptr;
  }
  return m;
}

Model::~Model() {
  adapters_.clear();
  if (base_)
    munmap(const_cast<uint8_t *>(base_), size_);
}

std::vector<std::string> Model::adapterNames() const {
  std::vector<std::string> names;
  for (const auto &a : adapters_)
    names.push_back(a->name());
  return names;
}

const Adapter *Model::adapter(const std::string &name) const {
  for (const auto &a : adapters_)
    if (a->name() == name)
      return a.get();
  return nullptr;
}

Adapter::~Adapter() {
  if (map_)
    munmap(const_cast<uint8_t *>(map_), size_);
}

namespace {
/// Checks one adapter table against the base's sites and the segments it
/// indexes (`segment(i)` gives bytes and size, or null), and fills `sites`.
template <typename SegFn>
Status adapterSites(const mub::Adapter *ad, const std::vector<Model::LoraSite> &baseSites,
                    uint32_t nseg, SegFn segment, std::vector<Adapter::Site> &sites) {
  std::string what = "adapter '" + (ad->name() ? ad->name()->str() : std::string()) + "'";
  if (!ad->name() || ad->name()->size() == 0)
    return Status::error("an adapter has no name");
  sites.assign(baseSites.size(), Adapter::Site());
  if (!ad->sites() || ad->sites()->size() == 0)
    return Status::error(what + " adapts no site");
  for (const mub::AdapterSite *s : *ad->sites()) {
    if (s->site() >= baseSites.size())
      return Status::error(what + ": site index " + std::to_string(s->site()) + " of " +
                           std::to_string(baseSites.size()));
    const Model::LoraSite &bs = baseSites[s->site()];
    Adapter::Site &out = sites[s->site()];
    if (out.rank)
      return Status::error(what + ": site '" + bs.name + "' is listed twice");
    if (s->rank() == 0 || s->rank() > 65536)
      return Status::error(what + ": site '" + bs.name + "': rank " + std::to_string(s->rank()) +
                           " is not in [1, 65536]");
    if (s->a_segment() >= nseg || s->b_segment() >= nseg)
      return Status::error(what + ": site '" + bs.name + "': segment index out of range");
    uint64_t r = s->rank();
    size_t an = 0, bn = 0;
    const uint8_t *a = segment(s->a_segment(), an), *b = segment(s->b_segment(), bn);
    if (an != r * uint64_t(bs.in) * 4 || bn != uint64_t(bs.out) * r * 4)
      return Status::error(what + ": site '" + bs.name + "' (in " + std::to_string(bs.in) +
                           ", out " + std::to_string(bs.out) + ", rank " + std::to_string(r) +
                           "): A/B segments are " + std::to_string(an) + " and " +
                           std::to_string(bn) + " bytes, not f32 [rank, in] and [out, rank]");
    out.a = reinterpret_cast<const float *>(a);
    out.b = reinterpret_cast<const float *>(b);
    out.rank = int64_t(r);
    for (size_t i = 0; i < an / 4; ++i)
      if (!std::isfinite(out.a[i]))
        return Status::error(what + ": site '" + bs.name + "': A holds a NaN or infinity");
    for (size_t i = 0; i < bn / 4; ++i)
      if (!std::isfinite(out.b[i]))
        return Status::error(what + ": site '" + bs.name + "': B holds a NaN or infinity");
  }
  return Status::success();
}
} // namespace

Status Model::verifyLora(uint32_t version) {
  sites_.clear();
  adapters_.clear();
  artifactId_ = fb_->artifact_id() ? fb_->artifact_id()->str() : "";
  if (version < 4 && (fb_->lora_sites() || fb_->adapters()))
    return Status::error("LoRA sites in a format version " + std::to_string(version) + " file");
  if (fb_->lora_sites())
    for (const mub::LoraSite *s : *fb_->lora_sites()) {
      if (!s->name() || s->in_features() <= 0 || s->out_features() <= 0 ||
          s->in_features() > (int64_t(1) << 31) || s->out_features() > (int64_t(1) << 31))
        return Status::error("LoRA site " + std::to_string(sites_.size()) +
                             ": needs a name and in/out features in [1, 2^31]");
      sites_.push_back({s->name()->str(), s->in_features(), s->out_features()});
    }
  // Lora instructions: a valid site, f32 operands whose feature dims match it.
  for (const mub::Program *p : *fb_->programs())
    for (uint32_t k = 0; k < p->instrs()->size(); ++k) {
      const mub::Instr *in = p->instrs()->Get(k);
      if (in->op() != mub::OpCode::Lora)
        continue;
      std::string where = "program '" + p->name()->str() + "' instruction " + std::to_string(k) +
                          " (Lora)";
      if (!in->ints() || in->ints()->size() != 1 || in->ints()->Get(0) < 0 ||
          uint64_t(in->ints()->Get(0)) >= sites_.size())
        return Status::error(where + ": needs ints [site] with a site of the " +
                             std::to_string(sites_.size()) + " in lora_sites");
      const LoraSite &site = sites_[size_t(in->ints()->Get(0))];
      int32_t xi = in->inputs()->Get(0), yi = in->inputs()->Get(1);
      const mub::Tensor *x = xi < 0 ? nullptr : p->tensors()->Get(xi);
      const mub::Tensor *y = yi < 0 ? nullptr : p->tensors()->Get(yi);
      const mub::Tensor *o = p->tensors()->Get(in->outputs()->Get(0));
      if (!x || !y || x->dtype() != mub::DType::F32 ||
          y->dtype() != mub::DType::F32 || o->dtype() != mub::DType::F32 ||
          x->shape()->size() == 0 || x->shape()->size() != y->shape()->size() ||
          x->max_shape()->Get(x->shape()->size() - 1) != site.in ||
          y->max_shape()->Get(y->shape()->size() - 1) != site.out)
        return Status::error(where + ": needs f32 input [..., " + std::to_string(site.in) +
                             "] and base [..., " + std::to_string(site.out) + "] for site '" +
                             site.name + "'");
    }
  if (!fb_->adapters())
    return Status::success();
  uint32_t nseg = fb_->segments() ? fb_->segments()->size() : 0;
  for (const mub::Adapter *ad : *fb_->adapters()) {
    std::unique_ptr<Adapter> a(new Adapter(*this));
    Status s = adapterSites(ad, sites_, nseg, [&](uint32_t i, size_t &n) {
      n = size_t(fb_->segments()->Get(i)->size());
      return segmentData(i);
    }, a->sites_);
    if (!s.ok)
      return s;
    a->name_ = ad->name()->str();
    a->source_ = ad->source() ? ad->source()->str() : "";
    if (adapter(a->name_))
      return Status::error("two adapters are named '" + a->name_ + "'");
    adapters_.push_back(std::move(a));
  }
  return Status::success();
}

std::unique_ptr<Adapter> Adapter::load(const Model &base, const std::string &path,
                                       Status &status) {
  auto fail = [&](const std::string &msg) {
    status = Status::error(path + ": " + msg);
    return nullptr;
  };
  std::unique_ptr<Adapter> a(new Adapter(base));
  if (Status ms = mapFile(path, ".mua", a->map_, a->size_); !ms.ok)
    return fail(ms.message);
  MubHeader h;
  std::memcpy(&h, a->map_, sizeof(h));
  if (std::memcmp(h.magic, "MUA\0", 4) != 0)
    return fail("not a .mua adapter file (bad magic at byte 0)");
  if (h.formatVersion != kMuaFormatVersion)
    return fail("adapter format version " + std::to_string(h.formatVersion) +
                " is not supported; this runtime reads version " +
                std::to_string(kMuaFormatVersion));
  if (Status hs = checkSections(h, a->size_); !hs.ok)
    return fail(hs.message);
  const uint8_t *fbp = a->map_ + h.flatbufferOffset;
  flatbuffers::Verifier verifier(fbp, h.flatbufferSize);
  if (!mub::AdapterFileBufferHasIdentifier(fbp) || !mub::VerifyAdapterFileBuffer(verifier))
    return fail("the adapter description (FlatBuffer at byte 64) is corrupt");
  const mub::AdapterFile *f = mub::GetAdapterFile(fbp);
  if (!f->adapter())
    return fail("no adapter table");
  std::string name = f->adapter()->name() ? f->adapter()->name()->str() : "";
  std::string baseId = f->base_artifact_id() ? f->base_artifact_id()->str() : "";
  if (base.artifactId().empty() || baseId != base.artifactId())
    return fail("adapter '" + name + "' was compiled against the base artifact " +
                (baseId.empty() ? std::string("(none recorded)") : baseId.substr(0, 16)) +
                "..., not " + base.path() + " (" +
                (base.artifactId().empty() ? std::string("no artifact_id")
                                           : base.artifactId().substr(0, 16) + "...") +
                "); recompile it with mu-compile --adapter-base " + base.path());
  // Same id: the sites must agree too (a file edited by hand).
  const auto &bs = base.loraSites();
  bool sitesMatch = f->base_sites() && f->base_sites()->size() == bs.size();
  for (uint32_t i = 0; sitesMatch && i < bs.size(); ++i) {
    const mub::LoraSite *s = f->base_sites()->Get(i);
    sitesMatch = s->name() && s->name()->str() == bs[i].name && s->in_features() == bs[i].in &&
                 s->out_features() == bs[i].out;
  }
  if (!sitesMatch)
    return fail("adapter '" + name + "': its base_sites differ from the LoRA sites of " +
                base.path());
  uint32_t nseg = f->segments() ? f->segments()->size() : 0;
  for (uint32_t i = 0; i < nseg; ++i) {
    const mub::Segment *seg = f->segments()->Get(i);
    if (seg->offset() % kMubAlignment || seg->offset() > h.dataSize ||
        seg->size() > h.dataSize - seg->offset())
      return fail("segment " + std::to_string(i) + " lies outside the data section or is misaligned");
  }
  const uint8_t *data = a->map_ + h.dataOffset;
  Status s = adapterSites(f->adapter(), bs, nseg, [&](uint32_t i, size_t &n) {
    n = size_t(f->segments()->Get(i)->size());
    return data + f->segments()->Get(i)->offset();
  }, a->sites_);
  if (!s.ok)
    return fail(s.message);
  a->name_ = name;
  a->source_ = f->adapter()->source() ? f->adapter()->source()->str() : "";
  status = Status::success();
  return a;
}

const mub::Program *Model::program(const std::string &name) const {
  for (const mub::Program *p : *fb_->programs())
    if (p->name()->str() == name)
      return p;
  return nullptr;
}

std::vector<std::string> Model::programNames() const {
  std::vector<std::string> names;
  for (const mub::Program *p : *fb_->programs())
    names.push_back(p->name()->str());
  return names;
}

const uint8_t *Model::segmentData(uint32_t s) const {
  return base_ + dataOffset_ + fb_->segments()->Get(s)->offset();
}

std::string Model::config(const std::string &key) const {
  if (fb_->config())
    for (const mub::KeyValue *kv : *fb_->config())
      if (kv->key() && kv->key()->str() == key)
        return kv->value() ? kv->value()->str() : "";
  return "";
}

namespace {
/// FlatBuffers' verifier checks a vector's length prefix for 4-byte
/// alignment only; 64-bit elements must be 8-byte aligned to be read.
template <typename V> bool aligned8(const V *v) {
  return !v || v->size() == 0 || (reinterpret_cast<uintptr_t>(v->data()) & 7) == 0;
}

std::string tensorDesc(const mub::Program *p, int i) {
  const mub::Tensor *t = p->tensors()->Get(i);
  return "program '" + p->name()->str() + "' tensor #" + std::to_string(i) + " '" +
         (t->name() ? t->name()->str() : std::string()) + "'";
}
} // namespace

Status Model::verify() {
  MubHeader h;
  std::memcpy(&h, base_, sizeof(h));
  if (std::memcmp(h.magic, "MUB\0", 4) != 0)
    return Status::error("not a .mub artifact (bad magic at byte 0)");
  if (h.formatVersion < kMubMinFormatVersion || h.formatVersion > kMubFormatVersion)
    return Status::error("format version " + std::to_string(h.formatVersion) +
                         " is not supported; this runtime reads versions " +
                         std::to_string(kMubMinFormatVersion) + " to " +
                         std::to_string(kMubFormatVersion) + " (recompile the model)");
  if (Status hs = checkSections(h, size_); !hs.ok)
    return hs;
  dataOffset_ = h.dataOffset;
  const uint8_t *fbp = base_ + h.flatbufferOffset;
  flatbuffers::Verifier verifier(fbp, h.flatbufferSize);
  if (!mub::ModelBufferHasIdentifier(fbp) || !mub::VerifyModelBuffer(verifier))
    return Status::error("the model description (FlatBuffer at byte 64) is corrupt");
  fb_ = mub::GetModel(fbp);
  if (fb_->format_version() != h.formatVersion)
    return Status::error("FlatBuffer format_version disagrees with the header");
  if (!fb_->programs() || fb_->programs()->size() == 0)
    return Status::error("artifact has no programs");
  // Target numerics this runtime's reference kernels implement (the FP16 /
  // BF16 rounding itself is explicit Cast instructions).
  static const char *const kNumerics[] = {"f16-float", "bf16-float", "uint-activations",
                                          "power-of-two-scales"};
  if (fb_->numerics())
    for (const flatbuffers::String *n : *fb_->numerics()) {
      std::string s = n ? n->str() : "";
      if (std::none_of(std::begin(kNumerics), std::end(kNumerics),
                       [&](const char *k) { return s == k; }))
        return Status::error("the artifact needs target numerics '" + s +
                             "', which this runtime does not implement (target '" +
                             (fb_->target() ? fb_->target()->str() : std::string("?")) +
                             "'; update libmu_runtime)");
    }
  uint32_t nseg = fb_->segments() ? fb_->segments()->size() : 0;
  for (uint32_t s = 0; s < nseg; ++s) {
    const mub::Segment *seg = fb_->segments()->Get(s);
    if (seg->offset() % kMubAlignment || seg->offset() > h.dataSize ||
        seg->size() > h.dataSize - seg->offset())
      return Status::error("constant segment " + std::to_string(s) + " [" +
                           std::to_string(seg->offset()) + ", +" + std::to_string(seg->size()) +
                           ") lies outside the data section or is misaligned");
  }
  uint32_t nstate = fb_->states() ? fb_->states()->size() : 0;
  for (uint32_t k = 0; k < nstate; ++k) {
    const mub::StateBuffer *sb = fb_->states()->Get(k);
    if (!aligned8(sb->max_shape()))
      return Status::error("state buffer " + std::to_string(k) + ": misaligned max_shape");
    int d = int(sb->dtype());
    uint64_t n = 1;
    bool ok = sb->name() && sb->max_shape() && d >= 0 && d <= int(mub::DType::U16);
    for (uint32_t j = 0; ok && sb->max_shape() && j < sb->max_shape()->size(); ++j) {
      int64_t v = sb->max_shape()->Get(j);
      ok = v >= 0 && v < (int64_t(1) << 32);
      ok = ok && (v == 0 || n <= (uint64_t(1) << 40) / uint64_t(v));
      n *= uint64_t(ok ? v : 1);
    }
    if (!ok || sb->size() != n * dtypeSize(DType(sb->dtype())))
      return Status::error("state buffer " + std::to_string(k) +
                           ": size does not match its dtype and max_shape");
  }
  declaredBytes_ = 0;
  scratchBytes_ = 0;
  repackBytes_ = 0;
  std::set<std::pair<uint32_t, uint64_t>> packedSeen; // (segment, offset)
  for (uint32_t k = 0; k < nstate; ++k)
    declaredBytes_ = addSaturated(declaredBytes_, fb_->states()->Get(k)->size());
  for (const mub::Program *p : *fb_->programs()) {
    if (!p->name() || !p->tensors() || !p->instrs())
      return Status::error("a program lacks a name, tensors or instructions");
    int nt = int(p->tensors()->size());
    // Per tensor, the elements at max_shape and the sum of its dimensions
    // (for the scratch bound below).
    std::vector<uint64_t> elems(size_t(nt), 0), dimSum(size_t(nt), 0), rows(size_t(nt), 0);
    for (int i = 0; i < nt; ++i) {
      const mub::Tensor *t = p->tensors()->Get(i);
      if (!t->name())
        return Status::error(tensorDesc(p, i) + ": has no name");
      if (!aligned8(t->shape()) || !aligned8(t->max_shape()) ||
          (t->quant() && !aligned8(t->quant()->zero_point())))
        return Status::error(tensorDesc(p, i) + ": misaligned 64-bit vector");
      if (int(t->dtype()) < 0 || int(t->dtype()) > int(mub::DType::U16))
        return Status::error(tensorDesc(p, i) + ": unknown dtype");
      if (!t->shape() || !t->max_shape() || t->shape()->size() != t->max_shape()->size())
        return Status::error(tensorDesc(p, i) + ": shape and max_shape differ in rank");
      uint64_t n = 1;
      for (uint32_t d = 0; d < t->shape()->size(); ++d) {
        int64_t s = t->shape()->Get(d), ms = t->max_shape()->Get(d);
        if (ms < 0 || (s >= 0 && s != ms) || s < -1 || ms > (int64_t(1) << 40))
          return Status::error(tensorDesc(p, i) + ": inconsistent shape/max_shape");
        if (ms != 0 && n > (uint64_t(1) << 40) / uint64_t(ms))
          return Status::error(tensorDesc(p, i) + ": more than 2^40 elements");
        n *= uint64_t(ms);
        dimSum[size_t(i)] = std::min<uint64_t>(dimSum[size_t(i)] + uint64_t(ms), uint64_t(1) << 50);
      }
      elems[size_t(i)] = n;
      uint64_t last = t->max_shape()->size() ? uint64_t(t->max_shape()->Get(t->max_shape()->size() - 1)) : 1;
      rows[size_t(i)] = last ? n / last : 0;
      uint64_t need = n * dtypeSize(DType(t->dtype()));
      if (t->layout() != mub::Layout::RowMajor) {
        // Packed weights: constants of the layout's dtype and rank, sized
        // exactly as include/mu/runtime/Packing.h lays them out.
        if (t->layout() != mub::Layout::I8N16K4 || h.formatVersion < 2)
          return Status::error(tensorDesc(p, i) + ": unknown layout " +
                               std::to_string(int(t->layout())));
        if (t->storage() != mub::Storage::Constant || t->dtype() != mub::DType::I8 ||
            t->shape()->size() != 2 || t->shape()->Get(0) < 0 || t->shape()->Get(1) < 0 ||
            (t->quant() && (t->quant()->block_size() != 0 || t->quant()->axis() > 0 ||
                            (t->quant()->zero_point() && t->quant()->zero_point()->size()))))
          return Status::error(tensorDesc(p, i) +
                               ": packed layout I8N16K4 needs a 2-d symmetric int8 constant "
                               "(per tensor or per output channel)");
        need = packedI8Bytes(t->shape()->Get(0), t->shape()->Get(1));
      }
      if (const mub::QuantParams *q = t->quant()) {
        int64_t rank = int64_t(t->shape()->size());
        uint32_t ns = q->scale() ? q->scale()->size() : 0;
        bool perTensor = ns == 1 && q->axis() < 0 && q->block_size() == 0;
        bool perAxis = q->axis() >= 0 && q->axis() < rank && q->block_size() == 0 &&
                       int64_t(ns) == t->max_shape()->Get(q->axis());
        // Blocks: 2-d [channels, in] weight, channels on axis 0, blocks along in.
        int64_t bs = q->block_size();
        bool blocked = bs > 0 && rank == 2 && q->axis() == 0 && t->shape()->Get(1) > 0 &&
                       t->shape()->Get(1) % bs == 0 &&
                       int64_t(ns) == t->shape()->Get(0) * (t->shape()->Get(1) / bs);
        bool zpOk = !q->zero_point() || q->zero_point()->size() == 0 || q->zero_point()->size() == ns;
        DType dt = DType(t->dtype());
        // Zero points lie in the stored type's range (the kernels' exactness
        // bounds assume |x - zero| fits the type's span).
        int64_t zlo = dt == DType::I8 ? -128 : dt == DType::I16 ? -32768 : dt == DType::I32 ? INT32_MIN : 0;
        int64_t zhi = dt == DType::I8 ? 127 : dt == DType::U8 ? 255 : dt == DType::I16 ? 32767
                      : dt == DType::U16 ? 65535 : INT32_MAX;
        for (uint32_t z = 0; zpOk && q->zero_point() && z < q->zero_point()->size(); ++z)
          zpOk = q->zero_point()->Get(z) >= zlo && q->zero_point()->Get(z) <= zhi;
        for (uint32_t z = 0; zpOk && z < ns; ++z) {
          float sc = q->scale()->Get(z);
          zpOk = std::isfinite(sc) && sc > 0 && sc < 1e30f && sc > 1e-30f;
        }
        if (!(dt == DType::I8 || dt == DType::U8 || dt == DType::I16 || dt == DType::U16 ||
              dt == DType::I32))
          return Status::error(tensorDesc(p, i) + ": quantization parameters on a " +
                               dtypeName(dt) + " tensor");
        if ((!perTensor && !perAxis && !blocked) || bs < 0 ||
            (q->zero_point() && q->zero_point()->size() && q->zero_point()->size() != ns))
          return Status::error(tensorDesc(p, i) + ": " + std::to_string(ns) +
                               " scales do not fit axis " + std::to_string(q->axis()) +
                               ", block size " + std::to_string(bs) + " (or zero point count " +
                               std::to_string(q->zero_point() ? q->zero_point()->size() : 0) + ")");
        if (!zpOk)
          return Status::error(tensorDesc(p, i) + ": a scale is not a finite positive number or a "
                               "zero point is outside the " + dtypeName(dt) + " range");
      }
      // Kernels access elements in place: every slot is aligned to its dtype.
      uint64_t align = dtypeSize(DType(t->dtype()));
      uint64_t at = t->offset();
      if (t->storage() == mub::Storage::Constant && t->segment() < nseg)
        at += fb_->segments()->Get(t->segment())->offset();
      if ((t->storage() == mub::Storage::Arena || t->storage() == mub::Storage::Output ||
           t->storage() == mub::Storage::Constant) && at % align != 0)
        return Status::error(tensorDesc(p, i) + ": offset " + std::to_string(t->offset()) +
                             " is not aligned to its " + std::to_string(align) + "-byte elements");
      switch (t->storage()) {
      case mub::Storage::Arena:
      case mub::Storage::Output:
        if (t->size() < need || t->offset() > p->arena_size() || t->size() > p->arena_size() - t->offset())
          return Status::error(tensorDesc(p, i) + ": arena slot [" + std::to_string(t->offset()) +
                               ", +" + std::to_string(t->size()) + ") is outside the " +
                               std::to_string(p->arena_size()) + "-byte arena or too small");
        break;
      case mub::Storage::Constant: {
        if (t->segment() >= nseg)
          return Status::error(tensorDesc(p, i) + ": segment index out of range");
        const mub::Segment *seg = fb_->segments()->Get(t->segment());
        if (t->size() != need || t->offset() > seg->size() || t->size() > seg->size() - t->offset())
          return Status::error(tensorDesc(p, i) + ": constant bytes outside its segment or size mismatch");
        break;
      }
      case mub::Storage::State: {
        if (t->state() < 0 || uint32_t(t->state()) >= nstate)
          return Status::error(tensorDesc(p, i) + ": state index out of range");
        const mub::StateBuffer *sb = fb_->states()->Get(t->state());
        if (sb->size() < need || int(sb->dtype()) != int(t->dtype()))
          return Status::error(tensorDesc(p, i) + ": does not fit its state buffer");
        break;
      }
      case mub::Storage::Input:
        break;
      default:
        return Status::error(tensorDesc(p, i) + ": unknown storage kind");
      }
    }
    // The arena is exactly what the planner laid out: no larger than the
    // end of its last slot (rounded to 64 bytes).
    uint64_t arenaEnd = 0;
    for (int i = 0; i < nt; ++i) {
      const mub::Tensor *t = p->tensors()->Get(i);
      if (t->storage() == mub::Storage::Arena || t->storage() == mub::Storage::Output)
        arenaEnd = std::max<uint64_t>(arenaEnd, t->offset() + t->size());
    }
    declaredBytes_ = addSaturated(declaredBytes_, p->arena_size());
    if (p->arena_size() > alignTo(arenaEnd, kMubAlignment))
      return Status::error("program '" + p->name()->str() + "': arena_size " +
                           std::to_string(p->arena_size()) + " exceeds its tensors' extent " +
                           std::to_string(arenaEnd));
    auto checkList = [&](const flatbuffers::Vector<int32_t> *v, const char *what, bool allowAbsent) -> Status {
      if (!v)
        return Status::success();
      for (int32_t idx : *v)
        if ((idx < 0 && !(allowAbsent && idx == -1)) || idx >= nt)
          return Status::error("program '" + p->name()->str() + "': " + what + " refers to tensor " +
                               std::to_string(idx) + " of " + std::to_string(nt));
      return Status::success();
    };
    Status s = checkList(p->inputs(), "inputs", false);
    if (s.ok) s = checkList(p->outputs(), "outputs", false);
    if (!s.ok)
      return s;
    for (uint32_t k = 0; k < p->instrs()->size(); ++k) {
      const mub::Instr *in = p->instrs()->Get(k);
      Arity a;
      if (!aligned8(in->ints()))
        return Status::error("program '" + p->name()->str() + "' instruction " + std::to_string(k) +
                             ": misaligned ints");
      if (!opcodeArity(in->op(), a))
        return Status::error("program '" + p->name()->str() + "' instruction " + std::to_string(k) +
                             ": unknown opcode " + std::to_string(int(in->op())));
      int ni = in->inputs() ? int(in->inputs()->size()) : 0;
      int no = in->outputs() ? int(in->outputs()->size()) : 0;
      if (ni < a.minIn || ni > a.maxIn || no < a.minOut || no > a.maxOut)
        return Status::error("program '" + p->name()->str() + "' instruction " + std::to_string(k) +
                             " (" + mub::EnumNameOpCode(in->op()) + "): wrong operand count");
      s = checkList(in->inputs(), "an instruction input", true);
      if (s.ok) s = checkList(in->outputs(), "an instruction output", false);
      if (!s.ok)
        return s;
      // Results go to the arena or to state: constants are mapped read-only
      // and inputs belong to the caller.
      for (int j = 0; j < no; ++j) {
        const mub::Tensor *ot = p->tensors()->Get(in->outputs()->Get(j));
        if (ot->storage() != mub::Storage::Arena && ot->storage() != mub::Storage::Output &&
            ot->storage() != mub::Storage::State)
          return Status::error("program '" + p->name()->str() + "' instruction " +
                               std::to_string(k) + " (" + mub::EnumNameOpCode(in->op()) +
                               ") writes tensor " + std::to_string(in->outputs()->Get(j)) +
                               ", which is a " +
                               (ot->storage() == mub::Storage::Constant ? "constant" : "program input"));
      }
      // An output may share an input's arena slot exactly (in place, a
      // Reshape's alias) but never overlap it partially: kernels read their
      // inputs while they write.
      auto inArena = [&](const mub::Tensor *t) {
        return t->storage() == mub::Storage::Arena || t->storage() == mub::Storage::Output;
      };
      for (int j = 0; j < no; ++j) {
        const mub::Tensor *ot = p->tensors()->Get(in->outputs()->Get(j));
        if (!inArena(ot) || ot->size() == 0)
          continue;
        for (int i = 0; i < ni; ++i) {
          int32_t ii = in->inputs()->Get(i);
          if (ii < 0)
            continue;
          const mub::Tensor *it = p->tensors()->Get(ii);
          if (!inArena(it) || it->size() == 0 || it->offset() == ot->offset())
            continue;
          if (it->offset() < ot->offset() + ot->size() && ot->offset() < it->offset() + it->size())
            return Status::error(
                "program '" + p->name()->str() + "' instruction " + std::to_string(k) + " (" +
                mub::EnumNameOpCode(in->op()) + "): output tensor " +
                std::to_string(in->outputs()->Get(j)) + " at arena [" +
                std::to_string(ot->offset()) + ", +" + std::to_string(ot->size()) +
                ") partly overlaps input tensor " + std::to_string(ii) + " at [" +
                std::to_string(it->offset()) + ", +" + std::to_string(it->size()) + ")");
        }
      }
      for (int j = 0; j < ni; ++j)
        if (in->inputs()->Get(j) < 0 && !operandOptional(in->op(), size_t(j)))
          return Status::error("program '" + p->name()->str() + "' instruction " +
                               std::to_string(k) + " (" + mub::EnumNameOpCode(in->op()) +
                               "): input " + std::to_string(j) + " is required but absent");
      // Kernel scratch per thread, bounded from the operands at max_shape.
      // The kernels size their buffers by rows and dimensions: 32 bytes per
      // dimension of every operand (per-row float copies, attention scores,
      // per-channel plans, reference accumulators), plus the 256 KiB
      // binary16 table. A linear (an instruction with a 2-d constant operand)
      // also copies its activation rows (padded, biased: 4 bytes per element
      // and 16 per row) and keeps an int64 tile of 64 channels per output row
      // (512 bytes); a reduction keeps a double per output element.
      bool reduction = in->op() >= mub::OpCode::ReduceSum && in->op() <= mub::OpCode::ReduceMin;
      bool linear = false;
      for (int j = 0; j < ni; ++j) {
        int32_t idx = in->inputs()->Get(j);
        const mub::Tensor *t = idx >= 0 ? p->tensors()->Get(idx) : nullptr;
        linear = linear || (t && t->storage() == mub::Storage::Constant && t->shape()->size() == 2);
      }
      uint64_t sb = uint64_t(256) << 10;
      auto add = [&](int32_t idx, bool output) {
        if (idx < 0)
          return;
        size_t u = size_t(idx);
        sb = addSaturated(sb, 32 * dimSum[u]);
        if (output && linear)
          sb = addSaturated(sb, 512 * rows[u]);
        if (output && reduction)
          sb = addSaturated(sb, 8 * elems[u]);
        if (!output && linear && p->tensors()->Get(idx)->storage() != mub::Storage::Constant)
          sb = addSaturated(addSaturated(sb, 4 * elems[u]), 16 * rows[u]);
      };
      // A row-major int8 weight on integer activations is packed once per
      // session for the fast kernels (Kernels.cpp): count the copy.
      if (in->op() == mub::OpCode::Linear && ni >= 2 && in->inputs()->Get(0) >= 0 &&
          in->inputs()->Get(1) >= 0) {
        const mub::Tensor *xt = p->tensors()->Get(in->inputs()->Get(0));
        const mub::Tensor *wt = p->tensors()->Get(in->inputs()->Get(1));
        mub::DType xd = xt->dtype();
        if ((xd == mub::DType::I8 || xd == mub::DType::U8 || xd == mub::DType::I16 ||
             xd == mub::DType::U16) &&
            wt->storage() == mub::Storage::Constant && wt->layout() == mub::Layout::RowMajor &&
            wt->dtype() == mub::DType::I8 && wt->shape()->size() == 2 &&
            wt->shape()->Get(0) >= 0 && wt->shape()->Get(1) >= 0 &&
            packedSeen.insert({wt->segment(), wt->offset()}).second)
          repackBytes_ = addSaturated(repackBytes_,
                                      packedI8Bytes(wt->shape()->Get(0), wt->shape()->Get(1)));
      }
      for (int j = 0; j < ni; ++j)
        add(in->inputs()->Get(j), false);
      for (int j = 0; j < no; ++j)
        add(in->outputs()->Get(j), true);
      scratchBytes_ = std::max(scratchBytes_, sb);
    }
  }
  declaredBytes_ = addSaturated(declaredBytes_, repackBytes_);
  if (Status ls = verifyLora(h.formatVersion); !ls.ok)
    return ls;
  if (const mub::Tokenizer *tok = fb_->tokenizer()) {
    int nv = tok->vocab() ? int(tok->vocab()->size()) : 0;
    if (tok->merges())
      for (const mub::MergeRule *r : *tok->merges())
        if (r->left() < 0 || r->left() >= nv || r->right() < 0 || r->right() >= nv ||
            r->merged() < 0 || r->merged() >= nv)
          return Status::error("tokenizer merge rule refers to a token outside the vocabulary");
    if (tok->specials())
      for (const mub::SpecialToken *sp : *tok->specials())
        if (sp->id() < 0 || sp->id() >= nv || !sp->content())
          return Status::error("tokenizer special token outside the vocabulary");
  }
  return Status::success();
}

} // namespace rt
} // namespace mu
