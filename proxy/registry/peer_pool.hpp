#pragma once
// Kept-alive connections to the other replicas, shared by the sessions of one I/O thread. A pull's
// blobs have different owners, so a client connection's requests go to one peer, then another:
// without a pool, each would pay a TCP and mutual-TLS handshake, on the very path (a hit through a
// non-owner) that should cost little more than a local hit. A connection is only handed to a
// session on the I/O thread it was opened on, since its socket belongs to that thread's io_context.
#include "proxy/net/upstream_connection.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pt::registry {

class PeerPool {
public:
  explicit PeerPool(std::size_t idle_per_member = 16) : idle_per_member_(idle_per_member) {}

  // An idle connection to `member` opened on `context` (the session's io_context), or null.
  std::unique_ptr<net::UpstreamConnection> take(const void* context, const std::string& member);
  // Keeps an open connection whose last exchange ended cleanly; beyond the bound it is closed.
  void put(const void* context, const std::string& member, std::unique_ptr<net::UpstreamConnection> connection);
  // Closes every idle connection: before the io_contexts their sockets belong to go away.
  void clear();

private:
  const std::size_t idle_per_member_;
  std::mutex mutex_;
  std::map<std::pair<const void*, std::string>, std::vector<std::unique_ptr<net::UpstreamConnection>>> idle_;
};

}  // namespace pt::registry
