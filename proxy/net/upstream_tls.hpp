#pragma once
// The client-side TLS settings used for every upstream connection: system trust store plus
// UPSTREAM_CA_BUNDLE, or no verification at all with VERIFY_SSL=false. The cluster's peer link
// uses one too, made from its own context (ca/peer_certificate.hpp).
#include <asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace pt::net {

class UpstreamTls {
public:
  // Throws std::runtime_error (fatal at start-up) when the bundle cannot be loaded.
  UpstreamTls(bool verify, const std::string& ca_bundle_path);
  // A context that verifies on its own terms (the peer link: its root and its mark, whatever the
  // name); connections check no host name against it.
  explicit UpstreamTls(std::shared_ptr<asio::ssl::context> context) : context_(std::move(context)), verify_(false) {}

  asio::ssl::context& context() { return *context_; }
  // Whether connections check the host name they asked for against the certificate.
  bool verify() const { return verify_; }

private:
  std::shared_ptr<asio::ssl::context> context_;
  bool verify_;
};

}  // namespace pt::net
