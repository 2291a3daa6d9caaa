#pragma once
// Gives memory back to the system after a wave of connections ends (issue 17: memory returned
// when sessions end). glibc keeps freed heap pages for reuse; malloc_trim(0) hands the free pages
// back (madvise), but walks the whole heap, so it runs only when the open connections of every
// TCP listener together fell to half of their peak since the last trim, and that peak was large.
#include <atomic>
#include <cstddef>

namespace mobix {

class HeapTrim {
 public:
  /// Peaks below this are not worth a trim: a few hundred sessions hold little.
  static constexpr std::size_t kMinPeak = 1024;
  void opened();
  /// True when this close brought the count to half the peak and the heap was trimmed.
  bool closed();
  std::size_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> peak_{0};
};

/// The process's one instance (shared by listeners on any thread; a race only moves a trim).
HeapTrim& heap_trim();

}  // namespace mobix
