#pragma once
// BLOB_STORE's LRU without a shared database. With PEERS every request for a digest goes to its
// owner (rendezvous hashing), so the owner sees every use of the keys it owns: its own record of
// the last use is the cluster's. Each replica keeps, for the bucket objects it served or stored,
// when it last did, and the bucket's eviction (S3_MAX_SIZE, S3_INACTIVE) ranks objects by it.
//
// A use costs the I/O thread a short lock and a map lookup: the exact time is kept in memory, and
// written to the index (RocksDB, on the blocking pool) at most once per key per `write_interval`,
// so a hot key costs nothing. A restart loses at most that much of a key's recency.
#include "cache/index.hpp"
#include "cache/timestamp.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace pt::cache {

class BucketUses {
public:
  static constexpr std::chrono::seconds kDefaultWriteInterval = std::chrono::hours(1);
  static constexpr std::size_t kDefaultMemoCapacity = 100'000;

  explicit BucketUses(Index& index, std::chrono::seconds write_interval = kDefaultWriteInterval,
                      std::size_t memo_capacity = kDefaultMemoCapacity)
      : index_(index), write_interval_(write_interval), memo_capacity_(memo_capacity) {}

  // A use of `object_key` at `now`, noted in memory (for the I/O threads). True when its durable
  // record is due: then call record() on the blocking pool.
  bool note(std::string_view object_key, Timestamp now);
  // Blocking: writes the durable record.
  std::error_code record(std::string_view object_key, Timestamp when) { return index_.put_bucket_last_used(object_key, when); }

  // Blocking: every last use this replica knows, the durable records updated by the newer ones
  // noted in memory.
  std::unordered_map<std::string, Timestamp> snapshot() const;
  // Blocking: drops the records of objects that left the bucket.
  void forget(const std::vector<std::string>& object_keys);

private:
  struct Noted {
    Timestamp used;     // the last use seen
    Timestamp written;  // when a durable record was last asked for
  };
  Index& index_;
  const std::chrono::seconds write_interval_;
  const std::size_t memo_capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Noted> memo_;
};

}  // namespace pt::cache
