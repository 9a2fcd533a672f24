#include "proxy/front/connection_limits.hpp"

namespace pt::front {

ConnectionLimits::Ticket& ConnectionLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    client_ = std::move(other.client_);
    other.owner_ = nullptr;
  }
  return *this;
}

void ConnectionLimits::Ticket::release() {
  if (owner_) owner_->release(client_);
  owner_ = nullptr;
}

ConnectionLimits::ConnectionLimits(auth::CidrList allowed, std::size_t max_total, std::size_t max_per_client)
    : max_total_(max_total),
      max_per_client_(max_per_client),
      allowed_(std::make_shared<const auth::CidrList>(std::move(allowed))) {}

ConnectionLimits::Admission ConnectionLimits::admit(const asio::ip::address& client) {
  auto key = client.to_string();
  std::lock_guard lock(mutex_);
  if (!allowed_->contains(client)) return {Verdict::client_not_allowed, {}};
  if (total_ >= max_total_) return {Verdict::too_many_connections, {}};
  auto& mine = per_client_[key];
  if (mine >= max_per_client_) {
    if (mine == 0) per_client_.erase(key);
    return {Verdict::too_many_from_client, {}};
  }
  ++mine;
  ++total_;
  return {Verdict::admitted, Ticket(this, std::move(key))};
}

void ConnectionLimits::release(const std::string& client) {
  std::lock_guard lock(mutex_);
  --total_;
  const auto found = per_client_.find(client);
  if (found != per_client_.end() && --found->second == 0) per_client_.erase(found);
}

std::size_t ConnectionLimits::active() const {
  std::lock_guard lock(mutex_);
  return total_;
}

void ConnectionLimits::replace_allowed(auth::CidrList allowed) {
  auto incoming = std::make_shared<const auth::CidrList>(std::move(allowed));
  std::lock_guard lock(mutex_);
  allowed_ = std::move(incoming);
}

std::vector<std::string> ConnectionLimits::allowed_entries() const {
  std::shared_ptr<const auth::CidrList> allowed;
  {
    std::lock_guard lock(mutex_);
    allowed = allowed_;
  }
  return allowed->entries();
}

int ConnectionLimits::status_for(Verdict verdict) {
  switch (verdict) {
    case Verdict::admitted: return 200;
    case Verdict::client_not_allowed: return 403;
    case Verdict::too_many_connections: return 503;
    case Verdict::too_many_from_client: return 429;
  }
  return 500;
}

const char* ConnectionLimits::describe(Verdict verdict) {
  switch (verdict) {
    case Verdict::admitted: return "admitted";
    case Verdict::client_not_allowed: return "client address not in ALLOWED_CLIENTS";
    case Verdict::too_many_connections: return "MAX_CONNECTIONS reached";
    case Verdict::too_many_from_client: return "MAX_CONNECTIONS_PER_CLIENT reached";
  }
  return "?";
}

}  // namespace pt::front
