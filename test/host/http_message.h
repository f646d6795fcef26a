// Header maps and body buffers as the filter chain sees them (Envoy's HeaderMap / Buffer::Instance roles).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inline_headers.h"

namespace host {

// Ordered, multi-valued, keys lower-cased, with the behaviour of Envoy's header maps that modules can
// observe: pseudo-headers (:method, :path, :authority, :scheme, :status) always precede the others; in
// a request header map "host" names ":authority"; adding to an inline header (inline_headers.h) joins
// the values with ","; set() removes every value and adds the new one at the end (of the pseudo-headers
// for a pseudo-header), as Envoy's setCopy does.
class HeaderMap {
 public:
  using Entry = std::pair<std::string, std::string>;
  explicit HeaderMap(HeaderKind kind = HeaderKind::Plain) : kind_(kind) {}
  HeaderKind kind() const { return kind_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }
  std::optional<std::string_view> get(std::string_view key) const;
  std::vector<const Entry*> all(std::string_view key) const;
  void set(std::string_view key, std::string_view value);  // replaces every value
  void add(std::string_view key, std::string_view value);
  void remove(std::string_view key);
  size_t size() const { return entries_.size(); }

 private:
  std::string canonical(std::string_view key) const;
  HeaderKind kind_;
  std::vector<Entry> entries_;
};

std::string lower(std::string_view s);

// The numeric :status of a response header map, 0 when absent or not a number.
int statusCode(const HeaderMap& h);

// A body as a list of slices, so chunk views are real and drain/append are cheap.
class Buffer {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::vector<std::string>& slices() const { return slices_; }
  void append(std::string_view data);
  void append(Buffer&& other);
  void drain(size_t n);
  std::string toString() const;
  void clear() {
    slices_.clear();
    size_ = 0;
  }

 private:
  std::vector<std::string> slices_;
  size_t size_ = 0;
};

}  // namespace host
