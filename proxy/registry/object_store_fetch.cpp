// BLOB_STORE in a Session: content by digest that the local cache lacks is asked of the bucket
// before any upstream. Its answer goes through the same fill as upstream's (digest verified,
// stored locally, shared with concurrent clients); only when the bucket has nothing, or fails,
// does the registry's chain get the request.
#include "proxy/registry/object_store.hpp"
#include "proxy/registry/session.hpp"

#include <fmt/format.h>

namespace pt::registry {
namespace {

// What of an S3 answer reaches a registry client: the body's framing and type. S3's own headers
// (ETag, x-amz-*, Last-Modified) describe the object, not the registry's content.
void as_registry_answer(http::ResponseHead& head, const cache::Digest& digest) {
  http::Headers kept;
  for (const auto& field : head.headers) {
    for (std::string_view name : {"Content-Length", "Content-Range", "Content-Type", "Accept-Ranges", "Connection",
                                  "Keep-Alive", "Transfer-Encoding"}) {
      if (http::iequals(field.name, name)) kept.add(field.name, field.value);
    }
  }
  kept.set("Docker-Content-Digest", digest.str());
  kept.set("Docker-Distribution-Api-Version", "registry/2.0");
  head.headers = std::move(kept);
}

}  // namespace

asio::awaitable<std::optional<Session::Exchange>> Session::fetch_from_store(AccessRecord& record,
                                                                            const cache::RegistryRequest& classified,
                                                                            const http::RequestHead& head,
                                                                            http::Parser& response) {
  const ObjectStore& store = *deps_.object_store;
  const cache::Digest& digest = *classified.digest;
  if (store.health.known_corrupt(digest)) co_return std::nullopt;
  const std::string key = object_key(digest);
  const auto range = head.headers.get("Range");
  const auto spec = head.method == "HEAD"
                        ? s3::head_object(store.endpoint, key)
                        : s3::get_object(store.endpoint, key, range ? std::optional<std::string_view>(*range) : std::nullopt);
  const http::RequestHead signed_head = signed_request(store, spec);
  const http::Origin origin{store.connect_host(), store.endpoint.port};
  const Exchange outcome = co_await exchange(upstream_, origin, signed_head, false, response, Hop::store);
  if (!outcome.ok) {
    store.health.failed(fmt::format("{}: {}", store.endpoint.describe(), outcome.error));
    co_return std::nullopt;
  }
  const int status = response.response().status;
  if (status == 200 || status == 206) {
    as_registry_answer(response.response(), digest);
    record.upstream = "s3";
    answered_.reset();  // not a REGISTRY_MIRRORS upstream
    store.health.downloaded();
    co_return outcome;
  }
  // Its error body is not wanted (a HEAD's has none, but the connection goes to the registry next).
  upstream_.close();
  if (status != 404) store.health.failed(fmt::format("{}: {} answered {}", store.endpoint.describe(), key, status));
  co_return std::nullopt;
}

}  // namespace pt::registry
