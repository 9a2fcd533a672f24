#pragma once
// How a blob is cut into the parts of a multipart upload: fixed-size parts, so a fill uploads each
// part as soon as it has that many bytes and holds at most one part in memory, whether or not
// the total length is known. S3's limits (the same on RGW and MinIO): parts of 5 MiB to 5 GiB
// except the last, which may be smaller; at most 10000 parts; objects up to 5 TiB; a single PUT
// up to 5 GiB.
#include <cstdint>
#include <optional>

namespace pt::s3 {

inline constexpr std::uint64_t kMiB = 1024 * 1024;
inline constexpr std::uint64_t kMinPartSize = 5 * kMiB;
inline constexpr std::uint64_t kMaxPartSize = 5 * 1024 * kMiB;
inline constexpr std::uint64_t kDefaultPartSize = 8 * kMiB;
inline constexpr std::uint32_t kMaxParts = 10000;
inline constexpr std::uint64_t kMaxObjectSize = 5 * 1024 * 1024 * kMiB;  // 5 TiB
inline constexpr std::uint64_t kMaxSinglePutSize = kMaxPartSize;

struct PartRange {
  std::uint32_t number = 0;  // 1-based, as S3 counts
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

class PartPlan {
 public:
  // For a blob of known length (Content-Length): `preferred` (clamped to 5 MiB..5 GiB), raised in
  // whole MiB when the blob would need more than 10000 parts. nullopt past 5 TiB. For an unknown
  // length: `preferred` as is, and the blob may grow to 10000 of them (80 GiB at 8 MiB).
  static std::optional<PartPlan> make(std::optional<std::uint64_t> total_length,
                                      std::uint64_t preferred = kDefaultPartSize);

  std::uint64_t part_size() const { return part_size_; }
  // The most bytes this plan can upload: 10000 parts (5 TiB at most).
  std::uint64_t capacity() const;

  // Parts of a known length: ceil(total / part size); 0 for an empty blob, which is a PutObject
  // (an upload needs at least one part).
  std::uint32_t part_count(std::uint64_t total_length) const;
  // Part `number` (1-based) of a blob of that length; nullopt past its end.
  std::optional<PartRange> part(std::uint32_t number, std::uint64_t total_length) const;

  // While bytes arrive with no known end: the part that the byte at `offset` belongs to, nullopt
  // past capacity() (the fill must give up on S3 then, and abort the upload).
  std::optional<std::uint32_t> part_number_at(std::uint64_t offset) const;

 private:
  explicit PartPlan(std::uint64_t part_size) : part_size_(part_size) {}
  std::uint64_t part_size_;
};

// One PutObject instead of a multipart upload: when the length is known and fits in one part.
// One request instead of three, and no upload left behind by a crash; the payload hash (the blob's
// digest) still guarantees that nothing unverified becomes readable.
bool use_single_put(std::optional<std::uint64_t> total_length, const PartPlan& plan);

}  // namespace pt::s3
