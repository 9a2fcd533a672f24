#pragma once
// The pure policy of the Docker-socket mode: which Engine API calls are image pulls, which
// registries go through the mirror, and how a pull's query and the re-tag afterwards look.
#include "common/image_reference.hpp"

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::dockersock {

// An URL query string as ordered key/value pairs (percent-decoded); encode() writes it back.
class Query {
public:
  static Query parse(std::string_view query);
  std::optional<std::string_view> get(std::string_view key) const;
  // Replaces the first parameter of that name (dropping any later ones), or appends it.
  void set(std::string_view key, std::string value);
  void remove(std::string_view key);
  std::string encode() const;

private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// "/v1.43/images/create?x=y" -> {"/v1.43", "/images/create", "x=y"}. The version prefix is kept
// for the calls the proxy makes itself, so they speak the client's API version.
struct ApiTarget {
  std::string version_prefix;  // "/v1.43" or ""
  std::string path;            // without the prefix
  std::string query;           // without '?'
};
ApiTarget split_target(std::string_view target);

enum class Endpoint { image_create, container_create, other };
Endpoint classify(std::string_view method, const ApiTarget& target);

// The repository on the mirror: MIRROR/library/ubuntu for Docker Hub, MIRROR/quay.io/org/app for
// other registries (the mirror listener takes the first path component holding '.' or ':' as the
// registry).
std::string mirror_repository(const ImageReference& ref, std::string_view mirror);

// "repo:tag", "repo@digest" (a digest wins over a tag, as for the engine), or "repo".
std::string with_suffix(const std::string& repository, const ImageReference& ref);

// The tag "latest" when the reference has neither a tag nor a digest: what the engine pulls for
// a container's image.
ImageReference with_default_tag(ImageReference ref);

class RewritePolicy {
public:
  // `registries`: names as a user writes them ("docker.io", "quay.io", "localhost:5000"); any of
  // Docker Hub's names means Docker Hub (canonical_registry()).
  RewritePolicy(std::string mirror, const std::vector<std::string>& registries);

  // True for a reference of a listed registry that is not the mirror itself.
  bool rewrites(const ImageReference& ref) const;
  const std::string& mirror() const { return mirror_; }
  const std::set<std::string>& registries() const { return registries_; }

private:
  std::string mirror_;
  std::set<std::string> registries_;
};

// "docker.io,quay.io" or "docker.io quay.io" -> {"docker.io", "quay.io"}.
std::vector<std::string> split_registry_list(std::string_view text);

// How one pull goes through the mirror.
struct PullPlan {
  ImageReference original;        // what the client asked for, normalised
  std::string client_repository;  // the repository as the client wrote it ("ubuntu")
  std::string mirror_reference;   // "mirror:5000/library/ubuntu:18.04" (or @digest)
  Query mirror_query;             // the images/create query that pulls from the mirror
  // The tag call (without the version prefix) that names the pulled image as the client asked;
  // empty for a pull by digest (the engine cannot tag a digest reference).
  std::string tag_target;
};

struct PullDecision {
  std::optional<PullPlan> plan;
  std::string reason;  // why the request goes through unchanged, when plan is empty
};

// An images/create query: rewritten when fromImage names a listed registry and a single image
// (a tag or a digest; no tag at all means "every tag", which goes through unchanged).
PullDecision plan_image_create(const Query& query, const RewritePolicy& policy);

// The pull for the "Image" of a containers/create body: the engine runs tag "latest" when none is
// given. `platform` (from the create query) is passed on to the pull.
PullDecision plan_container_image(std::string_view image, std::string_view platform, const RewritePolicy& policy);

}  // namespace pt::dockersock
