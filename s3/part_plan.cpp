#include "s3/part_plan.hpp"

#include <algorithm>

namespace pt::s3 {

std::optional<PartPlan> PartPlan::make(std::optional<std::uint64_t> total_length, std::uint64_t preferred) {
  std::uint64_t size = std::clamp(preferred, kMinPartSize, kMaxPartSize);
  if (total_length) {
    if (*total_length > kMaxObjectSize) return std::nullopt;
    const std::uint64_t needed = (*total_length + kMaxParts - 1) / kMaxParts;  // the smallest part that fits
    if (needed > size) size = (needed + kMiB - 1) / kMiB * kMiB;
    size = std::min(size, kMaxPartSize);  // 5 TiB / 10000 < 5 GiB: always fits
  }
  return PartPlan(size);
}

std::uint64_t PartPlan::capacity() const { return std::min(part_size_ * kMaxParts, kMaxObjectSize); }

std::uint32_t PartPlan::part_count(std::uint64_t total_length) const {
  return static_cast<std::uint32_t>((total_length + part_size_ - 1) / part_size_);
}

std::optional<PartRange> PartPlan::part(std::uint32_t number, std::uint64_t total_length) const {
  if (number < 1 || number > part_count(total_length)) return std::nullopt;
  const std::uint64_t offset = static_cast<std::uint64_t>(number - 1) * part_size_;
  return PartRange{number, offset, std::min(part_size_, total_length - offset)};
}

std::optional<std::uint32_t> PartPlan::part_number_at(std::uint64_t offset) const {
  if (offset >= capacity()) return std::nullopt;
  return static_cast<std::uint32_t>(offset / part_size_ + 1);
}

bool use_single_put(std::optional<std::uint64_t> total_length, const PartPlan& plan) {
  return total_length && *total_length <= plan.part_size();
}

}  // namespace pt::s3
