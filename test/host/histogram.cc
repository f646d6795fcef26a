#include "histogram.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace host {

namespace {
constexpr int kMaxExponent = 19;  // uint64_t has at most 20 decimal digits

double powerOfTen(int e) {
  double p = 1;
  for (int i = 0; i < e; i++) p *= 10;  // exact: every power of ten up to 10^22 is a double
  return p;
}

uint32_t binOf(uint64_t v) {
  if (v == 0) return 0;
  int e = 0;
  uint64_t scale = 1;  // 10^e, the largest power of ten not above v
  while (e < kMaxExponent && v / scale >= 10) {
    scale *= 10;
    e++;
  }
  const uint64_t lead = e == 0 ? v * 10 : v / (scale / 10);  // two leading digits, 10..99
  return static_cast<uint32_t>(e * 100) + static_cast<uint32_t>(lead);
}

// A bin [left, left + width): the two leading digits d.d times 10^exponent.
double binLeft(uint32_t key) {
  if (key == 0) return 0;
  return (static_cast<double>(key % 100) / 10.0) * powerOfTen(static_cast<int>(key / 100));
}

double binWidth(uint32_t key) {
  if (key == 0) return 0;
  return powerOfTen(static_cast<int>(key / 100)) / 10.0;
}
}  // namespace

void Histogram::record(uint64_t value) {
  pending_[binOf(value)]++;
}

void Histogram::flush() {
  for (const auto& [key, n] : pending_) cumulative_[key] += n;
  interval_ = std::move(pending_);
  pending_.clear();
}

uint64_t binCount(const HistogramBins& bins) {
  uint64_t n = 0;
  for (const auto& [key, c] : bins) n += c;
  return n;
}

double binQuantile(const HistogramBins& bins, double q) {
  const uint64_t total = binCount(bins);
  if (total == 0) return std::nan("");
  const double target = std::ceil(q * static_cast<double>(total));
  const uint64_t rank = std::clamp<uint64_t>(target < 1 ? 1 : static_cast<uint64_t>(target), 1, total);
  uint64_t before = 0;
  for (const auto& [key, c] : bins) {
    if (rank <= before + c) {
      const double k = static_cast<double>(rank - before);
      return binLeft(key) + binWidth(key) * (k / (static_cast<double>(c) + 1));
    }
    before += c;
  }
  return binLeft(bins.rbegin()->first);  // not reached: rank <= total
}

double binSum(const HistogramBins& bins) {
  double sum = 0;
  for (const auto& [key, c] : bins) {
    if (key == 0) continue;
    const double l = binLeft(key), u = l + binWidth(key);
    sum += static_cast<double>(c) * (2 * l * u / (l + u));
  }
  return sum;
}

uint64_t binCountAtMost(const HistogramBins& bins, double le) {
  uint64_t n = 0;
  for (const auto& [key, c] : bins)
    if (binLeft(key) <= le) n += c;
  return n;
}

std::string formatDouble(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // The shortest round-trip digits, as d.ddde±x; then placed positionally when the exponent allows.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  const auto epos = sci.find('e');
  const int exp = std::atoi(sci.c_str() + epos + 1);
  if (exp < -4 || exp >= 16) return sci;
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out += '-';
    i = 1;
  }
  std::string digits;
  for (; i < epos; i++)
    if (sci[i] != '.') digits += sci[i];
  if (exp < 0) {
    out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
  }
  return out;
}

}  // namespace host
