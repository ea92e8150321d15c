//===- TokenizerImport.cpp - tokenizer.json -> TokenizerData --------------===//
///
/// \file
/// Normalizes a Hugging Face tokenizer.json (BPE model) into the table the
/// runtime reads: id-ordered vocabulary, merges as (left, right, merged) id
/// triples in priority order, added tokens, and the few flags the two
/// supported flavours need (byte-level vs SentencePiece-style).
///
//===----------------------------------------------------------------------===//
#include "mu/Artifact/MubWriter.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace llvm;

namespace mu {

namespace {
bool hasType(const json::Value *v, StringRef type) {
  const json::Object *o = v ? v->getAsObject() : nullptr;
  if (!o)
    return false;
  if (auto t = o->getString("type"); t && *t == type)
    return true;
  for (StringRef key : {"normalizers", "pretokenizers", "decoders"})
    if (const json::Array *a = o->getArray(key))
      for (const json::Value &e : *a)
        if (hasType(&e, type))
          return true;
  return false;
}
} // namespace

bool importTokenizerJson(StringRef path, TokenizerData &t, std::string &error) {
  auto fail = [&](const Twine &msg) {
    error = (path + ": " + msg).str();
    return false;
  };
  auto buf = MemoryBuffer::getFile(path);
  if (!buf)
    return fail("cannot read: " + buf.getError().message());
  Expected<json::Value> parsed = json::parse((*buf)->getBuffer());
  if (!parsed)
    return fail("not valid JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  const json::Object *model = root ? root->getObject("model") : nullptr;
  if (!model)
    return fail("no \"model\" object");
  auto type = model->getString("type");
  if (!type || *type != "BPE")
    return fail("tokenizer model type '" + (type ? *type : StringRef("<none>")) +
                "' is not supported (BPE only)");
  const json::Object *vocab = model->getObject("vocab");
  if (!vocab)
    return fail("BPE model has no vocab");
  StringMap<int> ids;
  int64_t maxId = -1;
  for (const auto &kv : *vocab) {
    auto id = kv.second.getAsInteger();
    if (!id || *id < 0 || *id > (1 << 24))
      return fail("vocab entry '" + kv.first.str() + "' has a bad id");
    ids[kv.first.str()] = int(*id);
    maxId = std::max(maxId, *id);
  }
  std::vector<std::pair<int, std::string>> added;
  if (const json::Array *a = root->getArray("added_tokens"))
    for (const json::Value &e : *a) {
      const json::Object *o = e.getAsObject();
      auto id = o ? o->getInteger("id") : std::nullopt;
      auto content = o ? o->getString("content") : std::nullopt;
      if (!id || !content || *id < 0 || *id > (1 << 24))
        return fail("bad added_tokens entry");
      added.emplace_back(int(*id), content->str());
      ids[*content] = int(*id);
      maxId = std::max(maxId, *id);
    }
  t.vocab.assign(size_t(maxId + 1), "");
  for (const auto &kv : ids) {
    std::string &slot = t.vocab[kv.second];
    if (!slot.empty() && slot != kv.first())
      return fail("tokens '" + slot + "' and '" + kv.first() + "' both have id " +
                  Twine(kv.second));
    slot = kv.first().str();
  }
  t.specials = added;

  int skipped = 0;
  if (const json::Array *merges = model->getArray("merges")) {
    for (const json::Value &m : *merges) {
      std::string a, b;
      if (auto s = m.getAsString()) {
        size_t sp = s->find(' ');
        if (sp == StringRef::npos)
          return fail("merge '" + s->str() + "' is not 'left right'");
        a = s->substr(0, sp).str();
        b = s->substr(sp + 1).str();
      } else if (const json::Array *pair = m.getAsArray(); pair && pair->size() == 2 &&
                 (*pair)[0].getAsString() && (*pair)[1].getAsString()) {
        a = (*pair)[0].getAsString()->str();
        b = (*pair)[1].getAsString()->str();
      } else {
        return fail("a merge is neither a string nor a pair of strings");
      }
      auto ia = ids.find(a), ib = ids.find(b), im = ids.find(a + b);
      if (ia == ids.end() || ib == ids.end())
        return fail("merge '" + a + " " + b + "' names '" + (ia == ids.end() ? a : b) +
                    "', which is not in the vocabulary");
      if (im == ids.end()) {
        ++skipped; // HF ignores merges whose result is not in the vocab
        continue;
      }
      t.merges.emplace_back(ia->second, ib->second, im->second);
    }
  }
  (void)skipped;

  const json::Value *pre = root->get("pre_tokenizer");
  bool byteLevel = hasType(pre, "ByteLevel") || hasType(root->get("decoder"), "ByteLevel");
  t.kind = byteLevel ? TokenizerData::ByteLevelBpe : TokenizerData::SentencePieceBpe;
  t.byteFallback = model->getBoolean("byte_fallback").value_or(false);
  t.prependSpace = hasType(root->get("normalizer"), "Prepend") ||
                   hasType(pre, "Metaspace");
  if (auto unk = model->getString("unk_token")) {
    auto it = ids.find(*unk);
    if (it != ids.end())
      t.unkId = it->second;
  }
  // BOS: the post-processor's first special token (TemplateProcessing).
  if (const json::Object *pp = root->getObject("post_processor"))
    if (const json::Array *single = pp->getArray("single"))
      if (!single->empty())
        if (const json::Object *first = (*single)[0].getAsObject())
          if (const json::Object *sp = first->getObject("SpecialToken"))
            if (auto id = sp->getString("id")) {
              auto it = ids.find(*id);
              if (it != ids.end()) {
                t.addBos = true;
                t.bosId = it->second;
              }
            }
  // tokenizer_config.json beside it names bos/eos tokens.
  SmallString<256> cfgPath(sys::path::parent_path(path));
  sys::path::append(cfgPath, "tokenizer_config.json");
  if (auto cbuf = MemoryBuffer::getFile(cfgPath)) {
    if (Expected<json::Value> c = json::parse((*cbuf)->getBuffer())) {
      if (const json::Object *co = c->getAsObject()) {
        auto idOf = [&](StringRef key) -> int {
          if (auto s = co->getString(key)) {
            auto it = ids.find(*s);
            return it == ids.end() ? -1 : it->second;
          }
          if (const json::Object *o = co->getObject(key))
            if (auto s = o->getString("content")) {
              auto it = ids.find(*s);
              return it == ids.end() ? -1 : it->second;
            }
          return -1;
        };
        if (t.bosId < 0)
          t.bosId = idOf("bos_token");
        if (auto add = co->getBoolean("add_bos_token"))
          t.addBos = *add && t.bosId >= 0;
        // chat_template: one Jinja string, or a list of named templates
        // (the one named "default" is the chat template).
        if (auto tpl = co->getString("chat_template"))
          t.chatTemplate = tpl->str();
        else if (const json::Array *list = co->getArray("chat_template"))
          for (const json::Value &v : *list)
            if (const json::Object *o = v.getAsObject())
              if (o->getString("name") == StringRef("default"))
                if (auto tpl = o->getString("template"))
                  t.chatTemplate = tpl->str();
        int eos = idOf("eos_token");
        if (eos >= 0)
          t.eosIds.push_back(eos);
      }
    } else {
      consumeError(c.takeError());
    }
  }
  return true;
}

} // namespace mu
