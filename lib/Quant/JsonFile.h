//===- JsonFile.h - JSON documents and atomic writes for lib/Quant -*- C++ -*-===//
#ifndef MU_LIB_QUANT_JSONFILE_H
#define MU_LIB_QUANT_JSONFILE_H

#include "llvm/Support/JSON.h"

#include <optional>
#include <string>

namespace mu {
namespace quant {

/// Parses `text` as a JSON object whose "format" is `format`; on failure
/// sets `error` (mentioning `what`) and returns nullopt.
std::optional<llvm::json::Value> parseDocument(const std::string &text, llvm::StringRef format,
                                               llvm::StringRef what, std::string &error);

/// Writes `text` to `path` through `path.part` and a rename: a failed write
/// never leaves a partial file.
bool writeFileAtomically(const std::string &path, const std::string &text, std::string &error);

} // namespace quant
} // namespace mu

#endif // MU_LIB_QUANT_JSONFILE_H
