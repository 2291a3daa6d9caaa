#include "core/heap_trim.hpp"

#include <malloc.h>

#include "core/metrics.hpp"

namespace mobix {

void HeapTrim::opened() {
  const auto now = open_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

bool HeapTrim::closed() {
  const auto now = open_.fetch_sub(1, std::memory_order_relaxed) - 1;
  auto peak = peak_.load(std::memory_order_relaxed);
  if (peak < kMinPeak || now > peak / 2) return false;
  if (!peak_.compare_exchange_strong(peak, now, std::memory_order_relaxed))
    return false;  // another close trims
  malloc_trim(0);
  metrics()
      .counter("mobix_heap_trims_total", "Heap pages given back after a wave of connections ended")
      .inc();
  return true;
}

HeapTrim& heap_trim() {
  static HeapTrim instance;
  return instance;
}

}  // namespace mobix
