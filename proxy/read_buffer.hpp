#pragma once
// The receive buffer of one connection: bytes read but not yet parsed stay here, so pipelined
// requests and tunnel bytes behind a CONNECT head are never lost. Starts small (most connections
// are idle) and grows to what the peer needs, up to a cap.
#include <asio/buffer.hpp>

#include <cstring>
#include <string_view>
#include <vector>

namespace pt {

class ReadBuffer {
public:
  explicit ReadBuffer(std::size_t initial = 4096) : storage_(initial) {}

  std::string_view data() const { return {storage_.data() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Room for at least `min_free` more bytes; moves unread data to the front before growing.
  asio::mutable_buffer prepare(std::size_t min_free) {
    if (storage_.size() - end_ < min_free) {
      if (begin_ > 0) {
        std::memmove(storage_.data(), storage_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (storage_.size() - end_ < min_free) storage_.resize(end_ + min_free);
    }
    return asio::buffer(storage_.data() + end_, storage_.size() - end_);
  }

  void commit(std::size_t n) { end_ += n; }

  std::size_t capacity() const { return storage_.size(); }

private:
  std::vector<char> storage_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace pt
