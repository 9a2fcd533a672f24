#pragma once
// The client-side TLS settings used for every upstream connection: system trust store plus
// UPSTREAM_CA_BUNDLE, or no verification at all with VERIFY_SSL=false.
#include <asio/ssl/context.hpp>

#include <string>

namespace pt::net {

class UpstreamTls {
public:
  // Throws std::runtime_error (fatal at start-up) when the bundle cannot be loaded.
  UpstreamTls(bool verify, const std::string& ca_bundle_path);

  asio::ssl::context& context() { return context_; }
  bool verify() const { return verify_; }

private:
  asio::ssl::context context_;
  bool verify_;
};

}  // namespace pt::net
