//===- MappedFile.h - read-only memory-mapped files ------------*- C++ -*-===//
///
/// \file
/// A read-only `mmap` of a whole file with RAII unmapping. Plain C++17 and
/// POSIX, so the runtime can share it.
///
//===----------------------------------------------------------------------===//
#ifndef MU_SUPPORT_MAPPEDFILE_H
#define MU_SUPPORT_MAPPEDFILE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace mu {

class MappedFile {
public:
  MappedFile() = default;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  ~MappedFile();

  /// Maps `path`; on failure returns false and sets `error` to a message
  /// that names the file and the OS reason.
  bool open(const std::string &path, std::string &error);

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  void reset();
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

} // namespace mu

#endif // MU_SUPPORT_MAPPEDFILE_H
