// A histogram the way Envoy's admin endpoint reports one (behaviour measured on Envoy 1.39/1.40):
// each sample falls in a log-linear bin of two significant decimal digits ([2.0, 2.1), [410, 420),
// [1700, 1800) ...); recorded samples become visible only when the stats are flushed
// (stats_flush_interval); /stats shows quantiles of the last interval and of everything flushed,
// /stats/prometheus cumulative bucket counts, an approximate sum and the count.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace host {

// Bin key -> sample count. A key orders like the values it holds: 0 for the zero bin, else
// exponent * 100 + the two leading digits (10..99).
using HistogramBins = std::map<uint32_t, uint64_t>;

class Histogram {
 public:
  void record(uint64_t value);
  // The samples recorded since the last flush become the interval and join the cumulative set.
  void flush();
  const HistogramBins& interval() const { return interval_; }
  const HistogramBins& cumulative() const { return cumulative_; }

 private:
  HistogramBins pending_, interval_, cumulative_;
};

uint64_t binCount(const HistogramBins& bins);
// The sample at rank max(1, ceil(q * count)), with a bin's n samples spread evenly inside it
// (the k-th at left + width * k / (n + 1)); NaN when there are no samples.
double binQuantile(const HistogramBins& bins, double q);
// Each sample counted as the harmonic mean of its bin's bounds.
double binSum(const HistogramBins& bins);
// Samples whose bin starts at or below `le` (a Prometheus bucket bound).
uint64_t binCountAtMost(const HistogramBins& bins, double le);

// Doubles as Envoy prints them: the shortest text that reads back the same value, in positional
// notation unless the decimal exponent is below -4 or at least 16; NaN as "nan".
std::string formatDouble(double v);

}  // namespace host
