#include "ca/leaf_minter.hpp"

#include "ca/x509_builder.hpp"

namespace pt::ca {

Leaf mint_leaf(const RootCa& root, const CertHost& host) {
  EvpPkeyPtr key = generate_p256_key();
  // OBJ_nid2obj returns a static object: nothing to free.
  X509Ptr cert = issue_host_certificate(root.cert(), root.key(), key.get(), host, host.name,
                                        {OBJ_nid2obj(NID_server_auth)});
  return Leaf{std::move(cert), std::move(key)};
}

Leaf mint_leaf(const RootCa& root, std::string_view host) {
  return mint_leaf(root, CertHost::parse_or_throw(host));
}

}  // namespace pt::ca
