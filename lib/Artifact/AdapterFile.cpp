//===- AdapterFile.cpp - swappable LoRA adapters as .mua files ------------===//
///
/// \file
/// A `.mua` file is one adapter compiled against one base artifact: the
/// .mub container (64-byte header, FlatBuffer, 64-aligned segments) with
/// magic "MUA\0" and the mua.fbs root. It records the base's artifact_id and
/// LoRA sites, so the runtime refuses it against any other base.
///
//===----------------------------------------------------------------------===//
#include "mu/Artifact/MubWriter.h"
#include "mu/Import/Import.h"
#include "mu/Version.h"
#include "mu/runtime/Runtime.h"

#include "mua_generated.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mu;

bool mu::buildAdapterFile(const std::string &baseId, const std::vector<LoraSiteInfo> &sites,
                          const AdapterBlob &adapter, std::vector<uint8_t> &bytes,
                          std::string &error) {
  if (baseId.empty()) {
    error = "adapter '" + adapter.name + "': the base artifact has no artifact_id";
    return false;
  }
  // Segments: A then B per site, 64-aligned.
  std::vector<std::pair<uint64_t, llvm::ArrayRef<float>>> segs;
  uint64_t data = 0;
  for (const AdapterBlob::Site &s : adapter.sites) {
    if (s.site >= sites.size() || s.a.size() != size_t(s.rank * sites[s.site].in) ||
        s.b.size() != size_t(sites[s.site].out * s.rank)) {
      error = "adapter '" + adapter.name + "': a site's matrices do not match the base's sites";
      return false;
    }
    for (llvm::ArrayRef<float> m : {s.a, s.b}) {
      data = alignTo(data, kMubAlignment);
      segs.push_back({data, m});
      data += m.size() * sizeof(float);
    }
  }
  flatbuffers::FlatBufferBuilder fb(1 << 12);
  fb.ForceDefaults(false);
  std::vector<flatbuffers::Offset<mub::LoraSite>> sitesFb;
  for (const LoraSiteInfo &si : sites)
    sitesFb.push_back(mub::CreateLoraSite(fb, fb.CreateString(si.name), si.in, si.out));
  std::vector<flatbuffers::Offset<mub::AdapterSite>> as;
  for (size_t i = 0; i < adapter.sites.size(); ++i)
    as.push_back(mub::CreateAdapterSite(fb, adapter.sites[i].site, uint32_t(adapter.sites[i].rank),
                                        uint32_t(2 * i), uint32_t(2 * i + 1)));
  auto ad = mub::CreateAdapter(fb, fb.CreateString(adapter.name), fb.CreateVector(as),
                               fb.CreateString(adapter.source));
  std::vector<flatbuffers::Offset<mub::Segment>> segFb;
  for (const auto &[off, m] : segs)
    segFb.push_back(mub::CreateSegment(fb, off, m.size() * sizeof(float)));
  std::string version = std::string(MU_VERSION_STRING) + " (" + MU_GIT_REVISION + ")";
  auto root = mub::CreateAdapterFile(fb, kMuaFormatVersion, fb.CreateString(version),
                                     fb.CreateString(baseId), fb.CreateVector(sitesFb), ad,
                                     fb.CreateVector(segFb));
  mub::FinishAdapterFileBuffer(fb, root);

  MubHeader h = makeHeader("MUA", kMuaFormatVersion, fb.GetSize(), data);
  bytes.assign(size_t(h.fileSize), 0);
  std::memcpy(bytes.data(), &h, sizeof(h));
  std::memcpy(bytes.data() + kMubHeaderSize, fb.GetBufferPointer(), fb.GetSize());
  for (const auto &[off, m] : segs)
    std::memcpy(bytes.data() + h.dataOffset + off, m.data(), m.size() * sizeof(float));
  return true;
}

bool mu::compileAdapterForBase(const std::string &basePath, const std::string &name,
                               const std::string &dir, double scale,
                               std::vector<uint8_t> &bytes, std::string &error) {
  rt::Status st;
  std::unique_ptr<rt::Model> base = rt::Model::load(basePath, st);
  if (!base) {
    error = st.message;
    return false;
  }
  std::vector<LoraSiteInfo> sites;
  for (const rt::Model::LoraSite &s : base->loraSites())
    sites.push_back({s.name, s.in, s.out});
  if (sites.empty()) {
    error = basePath + ": the base artifact has no LoRA sites (compile it with --adapter "
                       "NAME=DIR so the adapted layers get a swappable side branch)";
    return false;
  }
  std::vector<LoraDelta> deltas;
  if (!readLoraAdapter(dir, scale, deltas, error))
    return false;
  AdapterBlob blob;
  blob.name = name;
  blob.source = dir;
  for (const LoraDelta &d : deltas) {
    auto it = std::find_if(sites.begin(), sites.end(),
                           [&](const LoraSiteInfo &s) { return s.name == d.site; });
    if (it == sites.end()) {
      error = dir + ": adapter module '" + d.site + "' has no LoRA site in " + basePath +
              " (its sites are the modules of the adapters it was compiled with)";
      return false;
    }
    if (it->in != d.in || it->out != d.out) {
      error = llvm::formatv("{0}: adapter module '{1}': lora_A is [{2}, {3}] and lora_B [{4}, {2}], "
                            "but the site in {5} is [{6}, {7}]", dir, d.site, d.rank, d.in, d.out,
                            basePath, it->out, it->in).str();
      return false;
    }
    AdapterBlob::Site s;
    s.site = uint32_t(it - sites.begin());
    s.rank = d.rank;
    s.a = d.a;
    s.b = d.b;
    blob.sites.push_back(s);
  }
  return buildAdapterFile(base->artifactId(), sites, blob, bytes, error);
}
