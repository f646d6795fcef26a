#include "http_message.h"

#include <algorithm>
#include <cstdlib>

namespace host {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

int statusCode(const HeaderMap& h) {
  return std::atoi(std::string(h.get(":status").value_or("0")).c_str());
}

std::string HeaderMap::canonical(std::string_view key) const {
  std::string k = lower(key);
  if (kind_ == HeaderKind::RequestHeaders && k == "host") return ":authority";  // Envoy's alias
  return k;
}

std::optional<std::string_view> HeaderMap::get(std::string_view key) const {
  const std::string k = canonical(key);
  for (const auto& e : entries_)
    if (e.first == k) return std::string_view(e.second);
  return std::nullopt;
}

std::vector<const HeaderMap::Entry*> HeaderMap::all(std::string_view key) const {
  const std::string k = canonical(key);
  std::vector<const Entry*> out;
  for (const auto& e : entries_)
    if (e.first == k) out.push_back(&e);
  return out;
}

void HeaderMap::set(std::string_view key, std::string_view value) {
  remove(key);
  add(key, value);
}

void HeaderMap::add(std::string_view key, std::string_view value) {
  std::string k = canonical(key);
  if (isInlineHeader(kind_, k)) {
    for (auto& e : entries_)
      if (e.first == k) {
        e.second.append(",").append(value);
        return;
      }
  }
  if (!k.empty() && k[0] == ':') {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [](const Entry& e) { return e.first.empty() || e.first[0] != ':'; });
    entries_.emplace(it, std::move(k), std::string(value));
    return;
  }
  entries_.emplace_back(std::move(k), std::string(value));
}

void HeaderMap::remove(std::string_view key) {
  const std::string k = canonical(key);
  std::erase_if(entries_, [&](const Entry& e) { return e.first == k; });
}

void Buffer::append(std::string_view data) {
  if (data.empty()) return;
  slices_.emplace_back(data);
  size_ += data.size();
}

void Buffer::append(Buffer&& other) {
  for (auto& s : other.slices_) {
    size_ += s.size();
    slices_.push_back(std::move(s));
  }
  other.clear();
}

void Buffer::drain(size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  size_t i = 0;
  while (n > 0 && i < slices_.size()) {
    if (slices_[i].size() <= n) {
      n -= slices_[i].size();
      i++;
    } else {
      slices_[i].erase(0, n);
      n = 0;
    }
  }
  slices_.erase(slices_.begin(), slices_.begin() + static_cast<std::ptrdiff_t>(i));
}

std::string Buffer::toString() const {
  std::string out;
  out.reserve(size_);
  for (const auto& s : slices_) out += s;
  return out;
}

}  // namespace host
