#pragma once
// Plain-HTTP requests addressed to the proxy itself: the root CA for clients to trust, a health
// check, metrics, the status page, host set-up scripts, the admin API (admin_api.hpp), and a
// clear refusal for everything else. The proxy port sees them as its LocalService.
#include "cache/cache_admin.hpp"
#include "proxy/front/dependencies.hpp"
#include "proxy/http/local_response.hpp"
#include "proxy/ops/dependencies.hpp"
#include "proxy/ops/warm_job.hpp"

#include <optional>

namespace pt::ops {

// Every local endpoint but the admin API. Pure but for reading the metrics and the cache's figures;
// the status page lists `cached_tags`, which the caller read from the index off the I/O threads.
http::LocalResponse answer_locally(const http::RequestHead& request, const Dependencies& deps,
                                   std::optional<cache::CachedTags> cached_tags = std::nullopt);

class LocalEndpoints final : public front::LocalService {
public:
  explicit LocalEndpoints(Dependencies& deps) : deps_(deps), warm_(deps) {}

  asio::awaitable<http::LocalResponse> answer(const http::RequestHead& request,
                                              const asio::ip::address& client) override;
  // POST /admin/warm: it reads a body and streams its answer.
  asio::awaitable<std::optional<bool>> exchange(const http::RequestHead& request, const asio::ip::address& client,
                                                front::LocalExchange& io) override;

private:
  Dependencies& deps_;
  WarmJobs warm_;
};

}  // namespace pt::ops
