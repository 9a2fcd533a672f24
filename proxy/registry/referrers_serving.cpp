// OCI 1.1 referrers lists (GET /v2/<name>/referrers/<digest>): the signatures, SBOMs and
// attestations that name an image. A list changes whenever one is pushed, so it is kept for
// REFERRERS_CACHE_TIME and then fetched again (a few KiB); when upstream fails, the stored list is
// served STALE, so `cosign verify`-style checks keep working through an outage and offline. The
// artifacts a list names are manifests and blobs by digest, cached as any other.
#include "cache/cache_store.hpp"
#include "common/run_blocking.hpp"
#include "proxy/registry/session.hpp"

namespace pt::registry {

asio::awaitable<bool> Session::serve_referrers(AccessRecord& record, const cache::RegistryRequest& classified,
                                               const std::string& key) {
  auto& store = *deps_.cache;
  const auto now = cache::now_timestamp();
  auto lookup = [&store, &key, now] { return store.lookup(key, now); };
  const auto stored = co_await run_blocking(deps_.blocking, lookup);
  const bool fresh = stored && now < stored->entry.fresh_until;
  if (stored && (fresh || settings_.offline)) {
    record.cache = fresh ? CacheStatus::hit : CacheStatus::stale;
    co_return co_await serve_hit(record, stored->entry, &stored->reader);
  }
  if (classified.is_head) {
    // A HEAD fills nothing; upstream's answer is relayed.
    record.cache = CacheStatus::miss;
    co_return co_await forward(record, classified);
  }

  auto turn = co_await take_fill(record, classified, key, key);
  if (turn.answered) co_return *turn.answered;
  co_return co_await fill_and_serve(record, classified, std::move(*turn.writer), nullptr, stored ? &*stored : nullptr);
}

}  // namespace pt::registry
