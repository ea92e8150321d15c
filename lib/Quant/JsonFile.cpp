//===- JsonFile.cpp - JSON documents and atomic writes for lib/Quant ------===//
#include "JsonFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace mu {
namespace quant {

std::optional<llvm::json::Value> parseDocument(const std::string &text, llvm::StringRef format,
                                               llvm::StringRef what, std::string &error) {
  llvm::Expected<llvm::json::Value> v = llvm::json::parse(text);
  if (!v) {
    error = "not valid JSON: " + llvm::toString(v.takeError());
    return std::nullopt;
  }
  const llvm::json::Object *root = v->getAsObject();
  if (!root || root->getString("format") != format) {
    error = ("not " + what + " (\"format\": \"" + format + "\")").str();
    return std::nullopt;
  }
  return std::move(*v);
}

bool writeFileAtomically(const std::string &path, const std::string &text, std::string &error) {
  std::string part = path + ".part";
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(part, ec);
    if (!ec) {
      os << text;
      os.close();
      if (os.has_error()) {
        ec = os.error();
        os.clear_error();
      }
    }
  }
  if (ec || (ec = llvm::sys::fs::rename(part, path))) {
    llvm::sys::fs::remove(part);
    error = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  return true;
}

} // namespace quant
} // namespace mu
