//===- Seam.cpp - joining an opener and a streamed continuation ------------===//
#include "mu/chat/Seam.h"

#include <cstring>

namespace mu {
namespace chat {

namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool isPunct(char c) { return c && std::strchr(".,;:!?\"'()[]{}*_`", c) != nullptr; }

/// A word as compared for repeats: ASCII lower case, without the
/// punctuation around it ("Paris." == "paris"); punctuation-only words stay.
std::string normalize(const std::string &w) {
  size_t b = 0, e = w.size();
  while (b < e && isPunct(w[b]))
    ++b;
  while (e > b && isPunct(w[e - 1]))
    --e;
  if (b == e)
    b = 0, e = w.size();
  std::string r = w.substr(b, e - b);
  for (char &c : r)
    if (c >= 'A' && c <= 'Z')
      c = char(c - 'A' + 'a');
  return r;
}

struct Span {
  size_t begin, end;
  bool complete; ///< followed by whitespace
};
std::vector<Span> words(const std::string &s) {
  std::vector<Span> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isSpace(s[i]))
      ++i;
    if (i == s.size())
      break;
    size_t b = i;
    while (i < s.size() && !isSpace(s[i]))
      ++i;
    out.push_back({b, i, i < s.size()});
  }
  return out;
}

bool startsWith(const std::string &s, const char *p) { return s.compare(0, std::strlen(p), p) == 0; }

/// The start of the continuation's text is a proper prefix of something
/// the spacing rules of resolve() tell apart ("n't", "'s", "\u2019s", a
/// 3-byte quote or ellipsis): more bytes are needed to pick the join.
bool joinNeedsMore(const std::string &body) {
  if (body == "n" || body == "n'" || body == "'")
    return true;
  if (!body.empty() && (unsigned char)body[0] == 0xE2)
    return body.size() < 3 || (startsWith(body, "\xE2\x80\x99") && body.size() < 4);
  return false;
}
bool endsWith(const std::string &s, const char *p) {
  size_t n = std::strlen(p);
  return s.size() >= n && s.compare(s.size() - n, n, p) == 0;
}
} // namespace

Seam::Seam(std::string opener) : opener_(std::move(opener)) {
  for (const Span &w : words(opener_))
    openerWords_.push_back(normalize(opener_.substr(w.begin, w.end - w.begin)));
}

std::string Seam::push(const std::string &chunk) {
  if (decided_)
    return chunk;
  buffer_ += chunk;
  return tryDecide(false) ? resolve() : std::string();
}

std::string Seam::finish() {
  if (decided_)
    return "";
  tryDecide(true);
  decided_ = true;
  return resolve();
}

bool Seam::tryDecide(bool final) {
  std::vector<Span> ws = words(buffer_);
  const size_t W = openerWords_.size();
  int best = 0;
  bool pending = false;
  for (size_t k = 1; k <= W && !pending; ++k) {
    bool dead = false, matched = true;
    for (size_t j = 0; j < k; ++j) {
      const std::string &target = openerWords_[W - k + j];
      if (j >= ws.size()) { // not seen yet
        matched = false;
        if (!final)
          pending = true;
        break;
      }
      std::string w = normalize(buffer_.substr(ws[j].begin, ws[j].end - ws[j].begin));
      if (ws[j].complete || final) {
        if (w != target) {
          dead = true;
          break;
        }
      } else {
        // A word still arriving: alive while it can become the target.
        std::string raw = buffer_.substr(ws[j].begin, ws[j].end - ws[j].begin);
        std::string lw = raw;
        for (char &c : lw)
          if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
        size_t b = 0;
        while (b < lw.size() && isPunct(lw[b]))
          ++b;
        std::string part = lw.substr(b);
        while (!part.empty() && isPunct(part.back()))
          part.pop_back();
        if (target.compare(0, part.size(), part) != 0)
          dead = true;
        else
          pending = true;
        matched = false;
        break;
      }
    }
    if (!dead && matched)
      best = int(k);
  }
  if (pending)
    return false;
  // The overlap is known; the join waits for the first character after it,
  // and for as much more as the spacing rules look at.
  size_t cut = best ? ws[size_t(best) - 1].end : 0;
  size_t first = buffer_.find_first_not_of(" \t\r\n\f\v", cut);
  if (!final && (first == std::string::npos || joinNeedsMore(buffer_.substr(first))))
    return false;
  overlapWords_ = best;
  if (best)
    removed_ = buffer_.substr(ws[0].begin, cut - ws[0].begin);
  decided_ = true;
  return true;
}

std::string Seam::resolve() {
  size_t cut = overlapWords_ ? words(buffer_)[size_t(overlapWords_) - 1].end : 0;
  std::string rest = buffer_.substr(cut);
  buffer_.clear();
  size_t wsEnd = rest.find_first_not_of(" \t\r\n\f\v");
  if (wsEnd == std::string::npos) {
    join_ = "none";
    return "";
  }
  std::string lead = rest.substr(0, wsEnd), body = rest.substr(wsEnd);
  if (opener_.empty()) {
    join_ = "empty-opener";
    return body;
  }
  size_t nl = lead.find('\n');
  if (nl != std::string::npos) {
    join_ = "newline";
    return lead.substr(nl) + body;
  }
  char c = body[0];
  size_t quotes = 0;
  for (char o : opener_)
    quotes += o == '"';
  bool closing = std::strchr(",.;:!?)]}%", c) != nullptr ||
                 (c == '"' && quotes % 2 == 1) || startsWith(body, "\xE2\x80\x9D") ||
                 startsWith(body, "n't") ||
                 ((c == '\'' || startsWith(body, "\xE2\x80\x99")) &&
                  body.size() > (c == '\'' ? 1u : 3u) &&
                  std::strchr("stdmlrv", body[c == '\'' ? 1 : 3]) != nullptr) ||
                 startsWith(body, "\xE2\x80\xA6"); // …
  char last = opener_.back();
  bool opening = std::strchr("([{/-", last) != nullptr || (last == '"' && quotes % 2 == 1) ||
                 endsWith(opener_, "\xE2\x80\x9C") || endsWith(opener_, "\xE2\x80\x94") ||
                 endsWith(opener_, "\xE2\x80\x93");
  if (closing || opening) {
    join_ = "none";
    return body;
  }
  join_ = "space";
  return " " + body;
}

std::string Seam::stitch(const std::string &opener, const std::string &continuation) {
  Seam s(opener);
  std::string out = opener + s.push(continuation);
  return out + s.finish();
}

} // namespace chat
} // namespace mu
