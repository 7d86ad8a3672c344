// SPDX-License-Identifier: MIT
// The byte-level primitives of rpsync's compact binary blobs (plugin/store/codec and the
// feed's entry payloads, plugin/feed/entry): unsigned LEB128 varints, length-prefixed
// strings, and a bounds-checked reader whose every call returns false on truncated input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rpsync::store::wire {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

inline void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  // At most 10 bytes (64 bits); false when truncated or longer.
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (b_.empty()) return false;
      auto c = static_cast<unsigned char>(b_.front());
      b_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return true;
    }
    return false;
  }
  // A length-prefixed string; the view points into the reader's buffer.
  bool view(std::string_view& s) {
    std::uint64_t n;
    if (!varint(n) || n > b_.size()) return false;
    s = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }
  bool str(std::string& s) {
    std::string_view v;
    if (!view(v)) return false;
    s.assign(v);
    return true;
  }
  bool byte(unsigned char& c) {
    if (b_.empty()) return false;
    c = static_cast<unsigned char>(b_.front());
    b_.remove_prefix(1);
    return true;
  }
  bool done() const { return b_.empty(); }

 private:
  std::string_view b_;
};

}  // namespace rpsync::store::wire
