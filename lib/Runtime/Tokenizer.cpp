//===- Tokenizer.cpp - BPE tokenizers embedded in artifacts ---------------===//
#include "mu/runtime/Tokenizer.h"

#include "mub_generated.h"

#include <algorithm>
#include <climits>
#include <cstdio>

namespace mu {
namespace rt {

namespace {

const char *kSpacePiece = "\xe2\x96\x81"; // U+2581 "▁"

/// Length of the UTF-8 sequence starting with byte c (1 for invalid bytes).
size_t utf8Len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xe) return 3;
  if ((c >> 3) == 0x1e) return 4;
  return 1;
}

std::string encodeUtf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xc0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += char(0xe0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3f));
    s += char(0x80 | (cp & 0x3f));
  } else {
    s += char(0xf0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3f));
    s += char(0x80 | ((cp >> 6) & 0x3f));
    s += char(0x80 | (cp & 0x3f));
  }
  return s;
}

uint32_t decodeUtf8(const std::string &s, size_t i, size_t n) {
  unsigned char c = s[i];
  if (n == 1) return c;
  uint32_t cp = c & (0xff >> (n + 1));
  for (size_t k = 1; k < n && i + k < s.size(); ++k)
    cp = (cp << 6) | (s[i + k] & 0x3f);
  return cp;
}

uint64_t pairKey(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

// Character classes for the GPT-2 pre-tokenizer regex. ASCII is exact; for
// other code points we use Unicode's block layout: the common punctuation,
// symbol and space blocks are "other", everything else counts as a letter
// (digits outside ASCII are rare in these vocabularies).
bool isSpaceCp(uint32_t c) {
  return c == ' ' || (c >= 9 && c <= 13) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}
bool isDigitCp(uint32_t c) { return (c >= '0' && c <= '9') || (c >= 0xff10 && c <= 0xff19); }
bool isLetterCp(uint32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (isSpaceCp(c))
    return false;
  if ((c >= 0x80 && c <= 0xbf) || c == 0xd7 || c == 0xf7 || (c >= 0x2000 && c <= 0x2bff) ||
      (c >= 0x3000 && c <= 0x303f) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff0f) ||
      (c >= 0x1f000 && c <= 0x1faff))
    return false;
  return true;
}

} // namespace

Status Tokenizer::init(const mub::Tokenizer *t) {
  if (!t || t->kind() == mub::TokenizerKind::None)
    return Status::error("artifact has no tokenizer");
  kind_ = t->kind() == mub::TokenizerKind::SentencePieceBpe ? Kind::SentencePieceBpe : Kind::ByteLevelBpe;
  for (const auto *s : *t->vocab())
    vocab_.push_back(s->str());
  for (size_t i = 0; i < vocab_.size(); ++i)
    ids_.emplace(vocab_[i], int(i));
  if (t->merges()) {
    int rank = 0;
    for (const mub::MergeRule *r : *t->merges())
      merges_.emplace(pairKey(r->left(), r->right()), std::make_pair(rank++, r->merged()));
  }
  if (t->specials())
    for (const mub::SpecialToken *s : *t->specials())
      specials_.emplace_back(s->content()->str(), s->id());
  std::sort(specials_.begin(), specials_.end(),
            [](const auto &a, const auto &b) { return a.first.size() > b.first.size(); });
  byteFallback_ = t->byte_fallback();
  prependSpace_ = t->prepend_space();
  addBos_ = t->add_bos();
  bos_ = t->bos_id();
  unk_ = t->unk_id();
  if (t->eos_ids())
    eos_.assign(t->eos_ids()->begin(), t->eos_ids()->end());
  chatTemplate_ = t->chat_template() ? t->chat_template()->str() : std::string();
  byteToken_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = ids_.find(name);
    if (it != ids_.end())
      byteToken_[b] = it->second;
  }
  if (kind_ == Kind::ByteLevelBpe) {
    // GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest
    // to U+0100 onwards in byte order.
    byteToUnicode_.resize(256);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
      byteToUnicode_[b] = encodeUtf8(cp);
      unicodeToByte_[byteToUnicode_[b]] = uint8_t(b);
    }
  }
  return Status::success();
}

bool Tokenizer::isSpecial(int id) const {
  for (const auto &s : specials_)
    if (s.second == id)
      return true;
  return false;
}

std::vector<int> Tokenizer::bpe(const std::vector<int> &symbols) const {
  std::vector<int> w = symbols;
  while (w.size() > 1) {
    int bestRank = INT_MAX, bestAt = -1, merged = -1;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      auto it = merges_.find(pairKey(w[i], w[i + 1]));
      if (it != merges_.end() && it->second.first < bestRank) {
        bestRank = it->second.first;
        bestAt = int(i);
        merged = it->second.second;
      }
    }
    if (bestAt < 0)
      break;
    // Merge every non-overlapping occurrence of the best pair, left to right.
    int a = w[bestAt], b = w[bestAt + 1];
    std::vector<int> next;
    next.reserve(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) {
        next.push_back(merged);
        ++i;
      } else {
        next.push_back(w[i]);
      }
    }
    w.swap(next);
  }
  return w;
}

void Tokenizer::encodeChunk(const std::string &text, std::vector<int> &out) const {
  if (text.empty())
    return;
  if (kind_ == Kind::SentencePieceBpe) {
    std::string norm;
    if (prependSpace_)
      norm += kSpacePiece;
    for (char c : text) {
      if (c == ' ')
        norm += kSpacePiece;
      else
        norm += c;
    }
    std::vector<int> symbols;
    for (size_t i = 0; i < norm.size();) {
      size_t n = std::min(utf8Len(norm[i]), norm.size() - i);
      std::string ch = norm.substr(i, n);
      auto it = ids_.find(ch);
      if (it != ids_.end()) {
        symbols.push_back(it->second);
      } else if (byteFallback_) {
        for (char c : ch) {
          int bt = byteToken_[uint8_t(c)];
          symbols.push_back(bt >= 0 ? bt : unk_);
        }
      } else if (unk_ >= 0) {
        symbols.push_back(unk_);
      }
      i += n;
    }
    std::vector<int> merged = bpe(symbols);
    out.insert(out.end(), merged.begin(), merged.end());
    return;
  }
  // Byte-level: GPT-2 pre-tokenization
  //   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  std::vector<uint32_t> cps;
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8Len(text[i]), text.size() - i);
    starts.push_back(i);
    cps.push_back(decodeUtf8(text, i, n));
    i += n;
  }
  starts.push_back(text.size());
  auto cls = [&](size_t k) { return isLetterCp(cps[k]) ? 1 : isDigitCp(cps[k]) ? 2 : isSpaceCp(cps[k]) ? 3 : 0; };
  size_t k = 0, n = cps.size();
  while (k < n) {
    size_t e = k;
    if (cps[k] == '\'' && k + 1 < n) {
      static const char *suf[] = {"s", "t", "re", "ve", "m", "ll", "d"};
      for (const char *s : suf) {
        size_t l = std::char_traits<char>::length(s), j = 0;
        while (j < l && k + 1 + j < n && cps[k + 1 + j] == uint32_t(s[j])) ++j;
        if (j == l) { e = k + 1 + l; break; }
      }
    }
    if (e == k) {
      size_t j = k;
      bool sp = cps[j] == ' ' && j + 1 < n && cls(j + 1) != 3;
      if (sp) ++j;
      int c = cls(j);
      if (c == 1 || c == 2) {
        while (j < n && cls(j) == c) ++j;
        e = j;
      } else if (c == 0) {
        while (j < n && cls(j) == 0) ++j;
        e = j;
      } else { // whitespace run; leave the last space to prefix the next word
        size_t r = k;
        while (r < n && cls(r) == 3) ++r;
        e = (r < n && r - k > 1) ? r - 1 : r;
      }
    }
    std::string piece = text.substr(starts[k], starts[e] - starts[k]);
    std::vector<int> symbols;
    for (unsigned char b : piece) {
      auto it = ids_.find(byteToUnicode_[b]);
      symbols.push_back(it != ids_.end() ? it->second : unk_);
    }
    std::vector<int> merged = bpe(symbols);
    out.insert(out.end(), merged.begin(), merged.end());
    k = e;
  }
}

std::vector<int> Tokenizer::encode(const std::string &text, bool addBos) const {
  std::vector<int> out;
  if (addBos && addBos_ && bos_ >= 0)
    out.push_back(bos_);
  // Split out special tokens (longest match first), then encode the gaps.
  size_t pos = 0, chunk = 0;
  while (pos < text.size()) {
    bool hit = false;
    for (const auto &s : specials_) {
      if (!s.first.empty() && text.compare(pos, s.first.size(), s.first) == 0) {
        encodeChunk(text.substr(chunk, pos - chunk), out);
        out.push_back(s.second);
        pos += s.first.size();
        chunk = pos;
        hit = true;
        break;
      }
    }
    if (!hit)
      ++pos;
  }
  encodeChunk(text.substr(chunk), out);
  return out;
}

std::string Tokenizer::tokenBytes(int id) const {
  if (id < 0 || size_t(id) >= vocab_.size())
    return "";
  const std::string &p = vocab_[id];
  if (kind_ == Kind::SentencePieceBpe) {
    // A byte piece "<0xNN>" (two hex digits; anything else is ordinary text).
    auto hex = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    if (p.size() == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' &&
        hex(p[3]) >= 0 && hex(p[4]) >= 0)
      return std::string(1, char(hex(p[3]) * 16 + hex(p[4])));
    if (isSpecial(id))
      return "";
    std::string r;
    for (size_t i = 0; i < p.size();) {
      if (p.compare(i, 3, kSpacePiece) == 0) {
        r += ' ';
        i += 3;
      } else {
        r += p[i++];
      }
    }
    return r;
  }
  if (isSpecial(id))
    return p;
  std::string r;
  for (size_t i = 0; i < p.size();) {
    size_t n = std::min(utf8Len(p[i]), p.size() - i);
    auto it = unicodeToByte_.find(p.substr(i, n));
    if (it != unicodeToByte_.end())
      r += char(it->second);
    i += n;
  }
  return r;
}

std::string Tokenizer::decode(const std::vector<int> &ids, bool stripLeading) const {
  std::string r;
  for (int id : ids)
    r += tokenBytes(id);
  if (stripLeading && kind_ == Kind::SentencePieceBpe && !r.empty() && r[0] == ' ')
    r.erase(0, 1);
  return r;
}

int Tokenizer::tokenId(const std::string &piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

namespace {
/// Length of the UTF-8 sequence a lead byte starts (0 = not a lead byte).
size_t utf8Length(unsigned char c) {
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return 2;
  if (c >= 0xE0 && c <= 0xEF)
    return 3;
  if (c >= 0xF0 && c <= 0xF4)
    return 4;
  return 0;
}
bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }
const char kReplacement[] = "\xEF\xBF\xBD";
} // namespace

std::string TextStream::push(int id) {
  std::string bytes = tok_.tokenBytes(id);
  if (first_ && !bytes.empty()) {
    if (strip_ && tok_.kind() == Tokenizer::Kind::SentencePieceBpe && bytes[0] == ' ')
      bytes.erase(0, 1);
    first_ = false;
  }
  pending_ += bytes;
  // Emit every complete character; keep a trailing incomplete one.
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    unsigned char c = static_cast<unsigned char>(pending_[i]);
    size_t n = utf8Length(c);
    if (n == 0) { // stray continuation or invalid lead byte
      out += kReplacement;
      ++i;
      continue;
    }
    if (i + n > pending_.size()) {
      // Incomplete so far: wait for more, unless what is there is already wrong.
      bool ok = true;
      for (size_t j = i + 1; j < pending_.size(); ++j)
        ok = ok && continuation(static_cast<unsigned char>(pending_[j]));
      if (ok)
        break;
    }
    size_t good = 1; // lead byte + the continuation bytes that follow it
    while (good < n && i + good < pending_.size() &&
           continuation(static_cast<unsigned char>(pending_[i + good])))
      ++good;
    if (good < n) { // a truncated sequence: one U+FFFD for all of it
      out += kReplacement;
      i += good;
      continue;
    }
    out.append(pending_, i, n);
    i += n;
  }
  pending_.erase(0, i);
  return out;
}

std::string TextStream::flush() {
  std::string out;
  if (!pending_.empty())
    out = kReplacement;
  pending_.clear();
  return out;
}

} // namespace rt
} // namespace mu
