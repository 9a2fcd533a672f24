#pragma once
// The HTTP/1.1 conversation with a registry client: the client's requests are served one after
// another (keep-alive), each relayed to the real registry over TLS, or answered from the cache.
// Three listeners lead here, with the same cache, credentials and policy: an intercepted CONNECT
// and the DNS-hijack (SNI) listener (TLS with our leaf, one registry per connection), and the
// registry-mirror listener (plain or TLS; each request names its registry, see mirror_route.hpp).
// Everything it uses is handed in (dependencies.hpp); what it did goes to the RequestObserver.
#include "cache/cache_policy.hpp"
#include "cache/cache_store.hpp"
#include "cache/manifest_negotiation.hpp"
#include "cache/registry_request.hpp"
#include "proxy/net/client_stream.hpp"
#include "proxy/registry/access_record.hpp"
#include "proxy/registry/body_source.hpp"
#include "proxy/registry/dependencies.hpp"
#include "proxy/registry/upstream_fallbacks.hpp"
#include "common/deadline.hpp"
#include "common/host_port.hpp"
#include "proxy/http/forwarding.hpp"
#include "proxy/http/codec.hpp"
#include "proxy/http/read_buffer.hpp"
#include "proxy/net/upstream_connection.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace pt::registry {

struct MirrorContext;
class TokenCache;

struct SessionInfo {
  std::uint64_t id = 0;
  std::string client;    // ip:port of the client
  std::string host;      // the CONNECT target (SNI listener: the server name; mirror: per request)
  std::uint16_t port = 443;
  // SNI listener: its own address. An upstream name resolving there is a DNS-hijack loop.
  std::optional<asio::ip::tcp::endpoint> own_listener;
  // The peer listener: another replica forwards requests it does not own; each names its registry
  // in Host. Served here as on a single node, never forwarded again.
  bool from_peer = false;
  std::string authority() const {
    return format_authority(host, port == 443 ? std::nullopt : std::optional<std::uint16_t>(port));
  }
};

// Where one request goes: the connection's registry, or on the mirror port the registry the
// request names. Set anew for every request, so nothing of one request's routing reaches the next.
struct Route {
  http::Origin registry;
  // Mirror port: the repository whose Bearer token the proxy fetches itself (its clients were told
  // no login is needed). Empty: the client's own credentials or the injected ones are used.
  std::optional<std::string> token_scope;
};

class Session {
public:
  // `mirror`: the mirror port's shared state (default registry, tokens); it must outlive the
  // session. Null for the proxy and SNI ports, whose connections are for one registry.
  Session(net::ClientStream client, Dependencies& deps, Deadline& deadline, SessionInfo info,
          MirrorContext* mirror = nullptr);

  asio::awaitable<void> run();

private:
  // What became of sending a request upstream.
  struct Exchange {
    bool ok = false;           // a response head is in the parser
    bool unreachable = false;  // no TCP connection could be had (not: a rejected certificate)
    std::string error;
    http::Origin origin;       // who answered (a redirect's Location is relative to it)
  };

  // Serves the request whose head the parser holds; false when the connection must close.
  asio::awaitable<bool> serve(AccessRecord& record);
  // Mirror and peer ports: sets route_ for the request in the parser. nullopt: serve it; a value:
  // it was answered here (keep going?).
  asio::awaitable<std::optional<bool>> route(AccessRecord& record);
  struct TagFill;
  // Relays the request upstream and the response back, uncached. With `learn`, a 200 answer to a
  // HEAD for a tag becomes a variant of its record (containerd and docker ask for tags only by
  // HEAD, then fetch the manifest by digest). A pull goes to the registry's REGISTRY_MIRRORS
  // upstreams, unless `upstreams` says the registry's own answer is wanted.
  enum class Upstreams { fallbacks, registry_only };
  asio::awaitable<bool> forward(AccessRecord& record, const cache::RegistryRequest& classified,
                                const TagFill* learn = nullptr, Upstreams upstreams = Upstreams::fallbacks);
  // Every Accept field of the request as one list: docker, podman and skopeo send one field per type.
  std::string client_accept() const;
  // Sends `head` to `origin` over `connection` (opened or reopened as needed), with the client's
  // request body when asked, then reads the response head into `response`. Retries once on a
  // stale kept-alive connection.
  // `hop`: a peer replica is reached within PEER_CONNECT_TIMEOUT, and also when OFFLINE (it is
  // not upstream).
  enum class Hop { upstream, peer, store };  // store: BLOB_STORE's bucket, the site's own (read OFFLINE too)
  asio::awaitable<Exchange> exchange(net::UpstreamConnection& connection, const http::Origin& origin, const http::RequestHead& head,
                                     bool with_client_body, http::Parser& response, Hop hop = Hop::upstream);
  // The same, to the registry. In mirror mode, also answers the registry's Bearer challenge with a
  // token the proxy fetches itself (mirror_requests.cpp).
  asio::awaitable<Exchange> exchange(const http::RequestHead& head, bool with_client_body, http::Parser& response);
  // A pull (GET or HEAD of a manifest or blob; `head` as for the registry) sent to the registry's
  // REGISTRY_MIRRORS upstreams in turn until one has it (upstream_fetch.cpp); any other request,
  // or a registry without, goes to the registry alone. `record.upstream` names who answered.
  asio::awaitable<Exchange> fetch(AccessRecord& record, const cache::RegistryRequest& classified,
                                  const http::RequestHead& head, http::Parser& response);
  // BLOB_STORE (object_store_fetch.cpp): this replica served or stored the bucket object
  // `object_key` (object_key(), tag_object_key()): its last use, for the bucket's LRU. Costs the
  // I/O thread a map lookup; the write, when due, goes to the blocking pool. No-op without BLOB_STORE.
  void note_bucket_use(const std::string& object_key);
  // BLOB_STORE (object_store_fetch.cpp): a GET or HEAD of content by digest, asked of the bucket.
  // nullopt: the bucket has it not, or failed (counted); the caller goes upstream.
  asio::awaitable<std::optional<Exchange>> fetch_from_store(AccessRecord& record, const cache::RegistryRequest& classified,
                                                            const http::RequestHead& head, http::Parser& response);
  // BLOB_STORE: a tag this replica has no record of, from the bucket with its variants' manifests,
  // into the local cache; nullopt when the bucket has none (or failed).
  asio::awaitable<std::optional<cache::TagRecord>> import_tag_from_store(const cache::RegistryRequest& classified,
                                                                        const std::string& tag_key);
  asio::awaitable<std::optional<cache::TagRecord>> import_tag_steps(const cache::RegistryRequest& classified,
                                                                    const std::string& tag_key, Deadline& deadline);
  // One upstream of a chain that is not the registry: the client's credentials are the registry's,
  // so they stay home; the mirror gets its own (AUTH_REGISTRIES) and the proxy's Bearer tokens.
  asio::awaitable<Exchange> exchange_with_mirror(const Upstream& upstream, const cache::RegistryRequest& classified,
                                                 const http::RequestHead& head, http::Parser& response);
  // Follows blob redirects (to a CDN or storage bucket) on `redirected`, without the registry's
  // credentials. Returns the connection holding the final response.
  asio::awaitable<net::UpstreamConnection*> follow_redirects(AccessRecord& record, Exchange& outcome,
                                                        http::Parser& response, net::UpstreamConnection& redirected);
  // Streams the response in `response` to the client.
  asio::awaitable<bool> relay_response(AccessRecord& record, http::Parser& response);
  // Writes `head`, then `body`'s bytes (chunked when told), to the client: the one loop every
  // response body goes through, from upstream, a cached file or a shared fill.
  enum class Delivered { complete, client_gone, failed };
  asio::awaitable<Delivered> deliver(AccessRecord& record, std::string head, bool chunked, BodySource& body);
  // OFFLINE=true: what the cache cannot answer gets a registry-style error saying so (a 502 would
  // read as a broken proxy, and clients show the registry's message).
  asio::awaitable<bool> reply_offline(AccessRecord& record, const cache::RegistryRequest& classified);
  // Answers the client ourselves (errors, the offline version check).
  asio::awaitable<bool> reply(AccessRecord& record, int status, std::string message, bool keep_alive,
                              http::Headers extra = {}, std::string content_type = "text/plain; charset=utf-8");

  // The cache paths (cache_serving.cpp).
  asio::awaitable<bool> serve_cacheable(AccessRecord& record, const cache::RegistryRequest& classified,
                                        const std::string& key);
  // The stored response; `reader` may be null only for a HEAD (no byte of the file is needed).
  asio::awaitable<bool> serve_hit(AccessRecord& record, const cache::IndexEntry& entry,
                                  const cache::BlobReader* reader);
  // A tag's manifest as fill_and_serve stores it: under its digest, as a variant of the record.
  struct TagFill {
    std::string key;  // the tag record's
    bool moved = false;  // upstream's tag changed: the record's older variants go
    std::optional<cache::Digest> head_digest;  // the tag's identity, when known (TagRecord)
    bool identifies_tag = false;  // the client takes every type: its answer's digest is the identity
  };
  // `stale`: what to serve (STALE) when upstream fails instead of answering.
  asio::awaitable<bool> fill_and_serve(AccessRecord& record, const cache::RegistryRequest& classified,
                                       cache::FillWriter writer, const TagFill* tag = nullptr,
                                       const cache::CacheStore::Hit* stale = nullptr);
  // OCI referrers lists (referrers_serving.cpp): kept REFERRERS_CACHE_TIME, then fetched again,
  // served stale when upstream fails, so signature checks work through the proxy and offline.
  asio::awaitable<bool> serve_referrers(AccessRecord& record, const cache::RegistryRequest& classified,
                                        const std::string& key);
  // Manifests by tag (tag_serving.cpp): answered from the tag's record when a stored variant fits
  // the client's Accept, revalidated with one HEAD per freshness window whichever client asks,
  // fetched when no variant fits, served STALE when upstream fails.
  asio::awaitable<bool> serve_tag(AccessRecord& record, const cache::RegistryRequest& classified,
                                  const std::string& tag_key);
  // Serves the stored manifest of `variant` (a HEAD from the record alone); false in `served` when
  // it is gone (evicted, corrupt).
  struct Served {
    bool served = false;
    bool keep_going = false;
  };
  asio::awaitable<Served> serve_variant(AccessRecord& record, const cache::RegistryRequest& classified,
                                        const cache::TagVariant& variant);
  // A tag's variant as a HEAD's answer describes it (digest, type, length), added to its record.
  asio::awaitable<void> learn_tag_variant(const cache::RegistryRequest& classified, const http::ResponseHead& head,
                                          const TagFill& tag);
  // The variant of the tag's record, fresh and fitting the client's Accept, that another client's
  // fill committed meanwhile; nullopt when there is none.
  asio::awaitable<std::optional<cache::TagVariant>> committed_tag_variant(const std::string& tag_key);
  // Fetches the tag upstream with the client's Accept (MISS), or joins an identical fetch.
  asio::awaitable<bool> fill_tag(AccessRecord& record, const cache::RegistryRequest& classified, TagFill tag);
  // Upstream failed and no stored variant fits: a platform manifest of a stored index, as the
  // registry would have picked it, else a registry-style error saying what is stored.
  asio::awaitable<bool> serve_tag_offline(AccessRecord& record, const cache::RegistryRequest& classified,
                                          const cache::TagRecord& tag, const cache::AcceptedTypes& accepted,
                                          std::string why);
  asio::awaitable<bool> serve_from_fill(AccessRecord& record, const cache::RegistryRequest& classified,
                                        const std::string& key, std::shared_ptr<cache::Fill> fill);
  // Whose turn it is to fetch `fill_key`: this request's (`writer`), or the request was answered
  // here (`answered`: keep going?) from the same fill another client started (HIT; `key`, an index
  // key or a tag's, is looked up if that fill ends without an answer), or uncached when the disk
  // takes no fill.
  struct FillTurn {
    std::optional<cache::FillWriter> writer;
    std::optional<bool> answered;
  };
  asio::awaitable<FillTurn> take_fill(AccessRecord& record, const cache::RegistryRequest& classified,
                                      const std::string& fill_key, const std::string& key);
  // A HEAD for the tag upstream asking for every manifest type (revalidation_accept()), so its
  // digest is the tag's identity whichever client caused it.
  asio::awaitable<cache::UpstreamAnswer> revalidate(AccessRecord& record);
  // The <registry> of the cache keys for this request's registry.
  std::string cache_registry() const;
  std::optional<std::string> injected_authorization() const;

  // CACHE_AUTH_MODE=verify (access_check.cpp): cached content of this registry is served only to
  // clients whose own credentials the registry accepts for the repository.
  enum class Access { allowed, denied, unverifiable };
  bool verifies_access() const;
  asio::awaitable<Access> verify_client_access(AccessRecord& record, const cache::RegistryRequest& classified);

  // PEERS (peer_forwarding.cpp): a request another replica owns goes to it, or to the next in
  // rendezvous order when it fails before answering. nullopt: serve it here (this replica owns it,
  // or no owner could be reached); a value: the owner's answer was relayed (keep going?).
  asio::awaitable<std::optional<bool>> serve_via_owner(AccessRecord& record, const cache::RegistryRequest& classified,
                                                       const std::string& owner_key);
  // The owner's response, streamed to the client; content asked for by digest is hashed on the
  // way, so a peer's wrong bytes never complete.
  asio::awaitable<bool> relay_from_peer(AccessRecord& record, const cache::RegistryRequest& classified,
                                        http::Parser& response);
  // The peer port: the request names its registry in Host, and the mirror port's token scope
  // when it came from there.
  asio::awaitable<std::optional<bool>> route_peer_request(AccessRecord& record);

  // Mirror mode (mirror_requests.cpp): picks the registry for the request in the parser and
  // rewrites its target and Host. nullopt: serve it (route_ is set); a value: it was answered
  // here (keep going?).
  asio::awaitable<std::optional<bool>> route_mirror_request(AccessRecord& record);
  // exchange() with the proxy's own Bearer token for `origin` and `scope` (a repository), fetched
  // when it challenges and kept in `tokens`: the mirror port's registries and REGISTRY_MIRRORS
  // upstreams, whose clients hold no credentials for them.
  asio::awaitable<Exchange> exchange_with_token(const http::Origin& origin, const std::string& scope, TokenCache& tokens,
                                                http::RequestHead head, http::Parser& response);

  net::ClientStream client_;
  Dependencies& deps_;
  const Settings& settings_;
  Deadline& deadline_;
  const SessionInfo info_;
  MirrorContext* mirror_;
  Route route_;  // the request being served's
  std::optional<Upstream> answered_;  // the REGISTRY_MIRRORS upstream whose answer fetch() returned last
  http::ReadBuffer buffer_;
  http::Parser parser_;
  net::UpstreamConnection upstream_;
  // PEERS: the connection to the owner of the request being forwarded, from the thread's pool.
  std::unique_ptr<net::UpstreamConnection> peer_;
};

}  // namespace pt::registry
