#pragma once
// The cache admin API of the running proxy (the live-cache twin of `pullthrough cache`, which
// cannot write an index the proxy holds open):
//
//   GET    /admin/cache[?filter=registry/name]  cached images, as `cache ls --json`
//   GET    /admin/cache/stats                   totals and per registry, as `cache stats --json`
//   DELETE /admin/cache/<registry>/<name>[:tag|@digest][?tag_only=1][&dry_run=1]
//                                               as `cache rm` (rules in cache/cache_admin.hpp)
//   POST   /admin/cache/gc[?max_size=10g]       as `cache gc` (default: CACHE_MAX_SIZE)
//   POST   /admin/warm                          fills the cache with images (warm_job.hpp)
//
// Allowed from loopback clients; from any other client only with
// `Authorization: Bearer <ADMIN_TOKEN>`, and never when no ADMIN_TOKEN is set.
#include "proxy/http/local_response.hpp"
#include "proxy/ops/dependencies.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>

#include <optional>
#include <string_view>

namespace pt::ops {

enum class AdminAccess {
  allowed,
  unauthorized,  // 401: a token is configured and the request carries none
  forbidden,     // 403: no token configured (loopback only), or a wrong token
};

// Pure. `authorization` is the Authorization header (empty when absent).
AdminAccess admin_access(const asio::ip::address& client, std::string_view authorization,
                         std::string_view admin_token);


// The refusal (401, 403) of an admin request from `client`, logged; nullopt when it is allowed.
std::optional<http::LocalResponse> admin_refusal(const http::RequestHead& request, const Dependencies& deps,
                                                 const asio::ip::address& client);

// The answer to an origin-form request for /admin or /admin/..., nullopt for any other path.
// Runs the cache work on deps.blocking.
asio::awaitable<std::optional<http::LocalResponse>> answer_admin(const http::RequestHead& request,
                                                           Dependencies& deps,
                                                           const asio::ip::address& client);

}  // namespace pt::ops
