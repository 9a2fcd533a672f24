#pragma once
// Who may open a connection to the proxy, and how many: ALLOWED_CLIENTS, MAX_CONNECTIONS and
// MAX_CONNECTIONS_PER_CLIENT. Checked once per accepted connection, on every listener, before a
// byte is read; a connection holds its Ticket for its whole life. Thread-safe.
//
// ALLOWED_CLIENTS may be replaced while the proxy runs (SIGHUP): connections already admitted keep
// going, the next accepted one is checked against the new list. The counters live on across the
// swap (a reload must not forget who holds a place), and so do the limits: MAX_CONNECTIONS and
// MAX_CONNECTIONS_PER_CLIENT stay as started.
#include "auth/cidr_list.hpp"

#include <asio/ip/address.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pt::front {

class ConnectionLimits {
public:
  enum class Verdict { admitted, client_not_allowed, too_many_connections, too_many_from_client };

  // Releases the connection's place when destroyed. Move-only.
  class Ticket {
  public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), client_(std::move(other.client_)) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { release(); }

  private:
    friend class ConnectionLimits;
    Ticket(ConnectionLimits* owner, std::string client) : owner_(owner), client_(std::move(client)) {}
    void release();

    ConnectionLimits* owner_ = nullptr;
    std::string client_;
  };

  struct Admission {
    Verdict verdict = Verdict::admitted;
    Ticket ticket;  // held only when admitted
  };

  ConnectionLimits(auth::CidrList allowed, std::size_t max_total, std::size_t max_per_client);

  Admission admit(const asio::ip::address& client);

  std::size_t active() const;

  // ALLOWED_CLIENTS from now on; counters and limits are kept.
  void replace_allowed(auth::CidrList allowed);
  // The allow list in force, in canonical form (for the log).
  std::vector<std::string> allowed_entries() const;

  // The status code and text to answer a refused HTTP client with (403, 503 or 429).
  static int status_for(Verdict verdict);
  static const char* describe(Verdict verdict);

private:
  void release(const std::string& client);

  const std::size_t max_total_;
  const std::size_t max_per_client_;
  mutable std::mutex mutex_;
  std::shared_ptr<const auth::CidrList> allowed_;  // an immutable snapshot, swapped whole
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_client_;
};

}  // namespace pt::front
