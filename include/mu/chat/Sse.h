//===- Sse.h - server-sent events and OpenAI streaming chunks --*- C++ -*-===//
///
/// \file
/// The reading half of a streamed completion, apart from the transport so
/// it can be tested and fuzzed on bytes: SseReader splits an event stream
/// (the WHATWG subset OpenAI-compatible servers send: "data:" lines joined
/// by "\n", a blank line ends an event, LF or CR LF, comments and the other
/// fields ignored) into event payloads; parseCompletionChunk reads one
/// payload of /v1/chat/completions or /v1/completions ("[DONE]", a chunk,
/// a whole non-streamed response, or an error object).
///
//===----------------------------------------------------------------------===//
#ifndef MU_CHAT_SSE_H
#define MU_CHAT_SSE_H

#include <cstddef>
#include <functional>
#include <string>

namespace mu {
namespace chat {

class SseReader {
public:
  /// `onEvent` gets each event's data; returning false stops the stream.
  using EventFn = std::function<bool(const std::string &data)>;
  SseReader() = default;
  explicit SseReader(size_t maxEventBytes) : maxEventBytes_(maxEventBytes) {}

  /// Feeds bytes as they arrive. False once the stream must stop: an event
  /// over the size cap (error() says so) or `onEvent` returned false.
  bool feed(const char *p, size_t n, const EventFn &onEvent);
  /// The stream ended: an event the server did not terminate with a blank
  /// line is still delivered.
  bool finish(const EventFn &onEvent);
  const std::string &error() const { return error_; }

private:
  bool endOfLine(const EventFn &onEvent);
  size_t maxEventBytes_ = 1 << 20;
  std::string line_, data_, error_;
  bool hasData_ = false;
};

/// One payload of a completion stream.
struct CompletionChunk {
  bool done = false; ///< "[DONE]"
  std::string text;  ///< continuation text it carries ("" for none)
  std::string error; ///< why it is not a valid chunk, or the server's error message
};

/// Reads `payload`; false (with `chunk.error`) for text that is not a
/// completion chunk or is an error object.
bool parseCompletionChunk(const std::string &payload, CompletionChunk &chunk);

} // namespace chat
} // namespace mu

#endif // MU_CHAT_SSE_H
