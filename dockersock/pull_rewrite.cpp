#include "dockersock/pull_rewrite.hpp"

#include "proxy/http/percent_encoding.hpp"

namespace pt::dockersock {
namespace {

// A query name or value as the client meant it. The engine's own clients never send a broken
// escape; one that does keeps its text as written, which then fails as an image reference.
std::string query_text(std::string_view text) {
  return http::percent_decode(text, http::Plus::space).value_or(std::string(text));
}

// "ubuntu:18.04@sha256:..." -> "ubuntu": the repository exactly as the client wrote it.
std::string strip_tag_and_digest(std::string_view text) {
  text = text.substr(0, text.find('@'));
  const auto slash = text.rfind('/');
  const auto colon = text.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    text = text.substr(0, colon);
  }
  return std::string(text);
}

PullPlan make_plan(ImageReference ref, std::string client_repository, const RewritePolicy& policy) {
  PullPlan plan;
  const auto mirror_repo = mirror_repository(ref, policy.mirror());
  plan.mirror_reference = with_suffix(mirror_repo, ref);
  plan.mirror_query.set("fromImage", mirror_repo);
  plan.mirror_query.set("tag", ref.digest.empty() ? ref.tag : ref.digest);
  if (ref.digest.empty()) {
    plan.tag_target = "/images/" + plan.mirror_reference + "/tag?repo=" + http::percent_encode(client_repository) +
                      "&tag=" + http::percent_encode(ref.tag);
  }
  plan.original = std::move(ref);
  plan.client_repository = std::move(client_repository);
  return plan;
}

}  // namespace

std::string mirror_repository(const ImageReference& ref, std::string_view mirror) {
  std::string out(mirror);
  out += '/';
  if (ref.registry != docker_hub_registry) out += ref.registry + "/";
  out += ref.repository;
  return out;
}

std::string with_suffix(const std::string& repository, const ImageReference& ref) {
  if (!ref.digest.empty()) return repository + "@" + ref.digest;
  if (!ref.tag.empty()) return repository + ":" + ref.tag;
  return repository;
}

ImageReference with_default_tag(ImageReference ref) {
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

Query Query::parse(std::string_view query) {
  Query q;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    if (!item.empty()) {
      const auto eq = item.find('=');
      q.params_.emplace_back(query_text(item.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : query_text(item.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return q;
}

std::optional<std::string_view> Query::get(std::string_view key) const {
  for (const auto& [k, v] : params_) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

void Query::set(std::string_view key, std::string value) {
  bool done = false;
  std::erase_if(params_, [&](auto& p) {
    if (p.first != key) return false;
    if (done) return true;
    p.second = std::move(value);
    done = true;
    return false;
  });
  if (!done) params_.emplace_back(std::string(key), std::move(value));
}

void Query::remove(std::string_view key) {
  std::erase_if(params_, [&](const auto& p) { return p.first == key; });
}

std::string Query::encode() const {
  std::string out;
  for (const auto& [k, v] : params_) {
    if (!out.empty()) out += '&';
    out += http::percent_encode(k) + "=" + http::percent_encode(v);
  }
  return out;
}

ApiTarget split_target(std::string_view target) {
  ApiTarget t;
  const auto q = target.find('?');
  if (q != std::string_view::npos) t.query = std::string(target.substr(q + 1));
  std::string_view path = target.substr(0, q);
  // "/v1.43/..." : a version is digits and dots after "/v".
  if (path.starts_with("/v")) {
    const auto end = path.find('/', 2);
    const auto version = path.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2);
    const bool numeric = !version.empty() && std::isdigit(static_cast<unsigned char>(version.front())) &&
                         version.find_first_not_of("0123456789.") == std::string_view::npos;
    if (numeric && end != std::string_view::npos) {
      t.version_prefix = std::string(path.substr(0, end));
      path.remove_prefix(end);
    }
  }
  t.path = std::string(path);
  return t;
}

Endpoint classify(std::string_view method, const ApiTarget& target) {
  if (method != "POST") return Endpoint::other;
  std::string_view path = target.path;
  if (path.ends_with('/')) path.remove_suffix(1);
  if (path == "/images/create") return Endpoint::image_create;
  if (path == "/containers/create") return Endpoint::container_create;
  return Endpoint::other;
}

std::vector<std::string> split_registry_list(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

RewritePolicy::RewritePolicy(std::string mirror, const std::vector<std::string>& registries)
    : mirror_(std::move(mirror)) {
  for (const auto& r : registries) registries_.insert(canonical_registry(r));
}

bool RewritePolicy::rewrites(const ImageReference& ref) const {
  return registries_.contains(ref.registry) && ref.registry != canonical_registry(mirror_);
}

PullDecision plan_image_create(const Query& query, const RewritePolicy& policy) {
  const auto from_image = query.get("fromImage");
  if (!from_image || from_image->empty()) return {std::nullopt, "not a pull (no fromImage)"};
  if (query.get("fromSrc")) return {std::nullopt, "an import (fromSrc)"};
  auto parsed = parse_image_reference(*from_image);
  if (!parsed.reference) return {std::nullopt, parsed.error};
  auto ref = std::move(*parsed.reference);
  // The engine lets the tag parameter override what fromImage carries; it may be a digest.
  if (const auto tag = query.get("tag"); tag && !tag->empty()) {
    if (tag->find(':') != std::string_view::npos) {
      ref.digest = std::string(*tag);
    } else {
      ref.tag = std::string(*tag);
    }
  }
  if (ref.tag.empty() && ref.digest.empty()) return {std::nullopt, "a pull of every tag"};
  if (!policy.rewrites(ref)) return {std::nullopt, "registry " + ref.registry + " is not rewritten"};
  auto plan = make_plan(std::move(ref), strip_tag_and_digest(*from_image), policy);
  // Everything else the client asked for (platform, ...) stays; the credentials were the
  // client's for the original registry and are not sent to the mirror (see the session).
  Query q = query;
  q.set("fromImage", std::string(*plan.mirror_query.get("fromImage")));
  q.set("tag", std::string(*plan.mirror_query.get("tag")));
  plan.mirror_query = std::move(q);
  return {std::move(plan), {}};
}

PullDecision plan_container_image(std::string_view image, std::string_view platform, const RewritePolicy& policy) {
  auto parsed = parse_image_reference(image);
  if (!parsed.reference) return {std::nullopt, parsed.error};
  auto ref = with_default_tag(std::move(*parsed.reference));
  if (!policy.rewrites(ref)) return {std::nullopt, "registry " + ref.registry + " is not rewritten"};
  auto plan = make_plan(std::move(ref), strip_tag_and_digest(image), policy);
  if (!platform.empty()) plan.mirror_query.set("platform", std::string(platform));
  return {std::move(plan), {}};
}

}  // namespace pt::dockersock
