#include "proxy/ops/admin_api.hpp"

#include "cache/cache_admin.hpp"
#include "common/run_blocking.hpp"
#include "common/units.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/http/percent_encoding.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <map>
#include <stdexcept>

namespace pt::ops {
namespace {

constexpr std::string_view kPrefix = "/admin/cache";

http::LocalResponse json_response(int status, const nlohmann::json& body) {
  http::LocalResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump(2) + "\n";
  return response;
}

http::LocalResponse error_response(int status, std::string message) {
  return json_response(status, {{"error", std::move(message)}});
}

// Compares without an early exit, so response times tell nothing about the token.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char differ = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    differ |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return differ == 0;
}

bool is_loopback(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return address.is_loopback();
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

std::optional<Target> parse_target(std::string_view target) {
  Target out;
  const auto question = target.find('?');
  auto path = http::percent_decode(target.substr(0, question));
  if (!path) return std::nullopt;
  out.path = std::move(*path);
  if (question == std::string_view::npos) return out;
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    const auto eq = item.find('=');
    auto name = http::percent_decode(item.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : http::percent_decode(item.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    if (!name->empty()) out.query[*name] = *value;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

bool flag(const Target& target, const std::string& name) {
  const auto it = target.query.find(name);
  return it != target.query.end() && it->second != "0" && it->second != "false";
}

http::LocalResponse list(cache::CacheStore& store, const Target& target) {
  const auto filter = target.query.contains("filter") ? target.query.at("filter") : "";
  const auto snapshot = cache::take_snapshot(store.index(), store.blobs());
  return json_response(200, cache::to_json(cache::list_images(snapshot, filter)));
}

http::LocalResponse stats(cache::CacheStore& store) {
  const auto snapshot = cache::take_snapshot(store.index(), store.blobs());
  auto body = cache::to_json(cache::cache_stats(snapshot));
  body["max_bytes"] = store.settings().max_bytes;
  return json_response(200, body);
}

http::LocalResponse remove(cache::CacheStore& store, const Target& target) {
  const auto parsed = cache::parse_image_reference(target.path.substr(kPrefix.size() + 1));
  if (!parsed.reference) return error_response(400, parsed.error);
  const auto snapshot = cache::take_snapshot(store.index(), store.blobs());
  const auto plan = cache::plan_removal(snapshot, *parsed.reference, flag(target, "tag_only"));
  if (!plan.error.empty()) return error_response(404, plan.error);
  if (flag(target, "dry_run")) return json_response(200, cache::to_json(*parsed.reference, plan, nullptr));
  const auto result = cache::execute_removal(store, plan);
  spdlog::info("admin: removed {} from the cache: {} entries, {} file(s), {}", cache::cache_name(*parsed.reference),
               result.entries, result.files, format_size(result.bytes));
  return json_response(result.errors.empty() ? 200 : 500, cache::to_json(*parsed.reference, plan, &result));
}

http::LocalResponse collect_garbage(cache::CacheStore& store, const Target& target) {
  std::uint64_t max_bytes = store.settings().max_bytes;
  if (const auto it = target.query.find("max_size"); it != target.query.end()) {
    try {
      max_bytes = parse_size(it->second);
    } catch (const std::invalid_argument& e) {
      return error_response(400, fmt::format("max_size: {}", e.what()));
    }
  }
  const auto result = cache::collect_garbage(store, max_bytes);
  spdlog::info("admin: cache gc to {}: evicted {} file(s) ({}), removed {} orphan file(s)",
               format_size(max_bytes), result.evicted.files, format_size(result.evicted.bytes),
               result.reconciled.unindexed_files + result.reconciled.junk_files);
  return json_response(200, cache::to_json(result));
}

// Routing and the cache work; blocking.
http::LocalResponse answer_cache(const std::string& method, const Target& target, cache::CacheStore& store) {
  const auto& path = target.path;
  const bool read = method == "GET" || method == "HEAD";
  const auto wrong_method = [](const char* allow) {
    auto response = error_response(405, fmt::format("use {} here", allow));
    response.extra_headers.add("Allow", allow);
    return response;
  };
  if (path == kPrefix || path == std::string(kPrefix) + "/") {
    return read ? list(store, target) : wrong_method("GET, HEAD");
  }
  if (path == std::string(kPrefix) + "/stats") return read ? stats(store) : wrong_method("GET, HEAD");
  if (path == std::string(kPrefix) + "/gc") {
    return method == "POST" ? collect_garbage(store, target) : wrong_method("POST");
  }
  if (path.starts_with(std::string(kPrefix) + "/")) {
    return method == "DELETE" ? remove(store, target) : wrong_method("DELETE");
  }
  return error_response(404, fmt::format("no such admin endpoint '{}'; see docs/cache-management.md",
                                         path.substr(0, 200)));
}

}  // namespace

AdminAccess admin_access(const asio::ip::address& client, std::string_view authorization,
                         std::string_view admin_token) {
  if (is_loopback(client)) return AdminAccess::allowed;
  if (admin_token.empty()) return AdminAccess::forbidden;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size() ||
      !http::iequals(authorization.substr(0, kScheme.size()), kScheme)) {
    return AdminAccess::unauthorized;
  }
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return same_secret(token, admin_token) ? AdminAccess::allowed : AdminAccess::forbidden;
}

std::optional<http::LocalResponse> admin_refusal(const http::RequestHead& request, const Dependencies& deps,
                                                 const asio::ip::address& client) {
  const auto access = admin_access(client, request.headers.get("Authorization").value_or(""),
                                   deps.admin_token);
  if (access == AdminAccess::allowed) return std::nullopt;
  spdlog::warn("admin: refused {} {} from {} ({})", request.method, http::path_of(request.target),
               client.to_string(), access == AdminAccess::unauthorized ? "no token" : "not allowed");
  if (access == AdminAccess::unauthorized) {
    auto response = error_response(401, "the admin API needs Authorization: Bearer <ADMIN_TOKEN>");
    response.extra_headers.add("WWW-Authenticate", "Bearer realm=\"pullthrough admin\"");
    return response;
  }
  return error_response(403, deps.admin_token.empty()
                                 ? "the admin API is only for loopback clients (set ADMIN_TOKEN to allow others)"
                                 : "wrong admin token");
}

asio::awaitable<std::optional<http::LocalResponse>> answer_admin(const http::RequestHead& request,
                                                           Dependencies& deps,
                                                           const asio::ip::address& client) {
  const std::string_view target = request.target;
  if (!(target == "/admin" || target.starts_with("/admin/") || target.starts_with("/admin?"))) {
    co_return std::nullopt;
  }
  if (auto refusal = admin_refusal(request, deps, client)) co_return std::move(*refusal);
  auto parsed = parse_target(target);
  if (!parsed) co_return error_response(400, "malformed percent-encoding in the request target");
  if (!parsed->path.starts_with(kPrefix)) {
    co_return error_response(404, "no such admin endpoint; try GET /admin/cache or /admin/cache/stats");
  }
  if (!deps.cache) co_return error_response(404, "this proxy has no cache");
  auto& store = *deps.cache;
  const Target parsed_target = std::move(*parsed);
  const std::string method = request.method;
  auto work = [&store, &parsed_target, &method] {
    try {
      return answer_cache(method, parsed_target, store);
    } catch (const std::exception& e) {
      spdlog::error("admin: {} {} failed: {}", method, parsed_target.path, e.what());
      return error_response(500, e.what());
    }
  };
  co_return co_await run_blocking(deps.blocking, work);
}

}  // namespace pt::ops
