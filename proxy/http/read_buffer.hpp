#pragma once
// The receive buffer of one connection: bytes read but not yet parsed stay here, so pipelined
// requests and tunnel bytes behind a CONNECT head are never lost. Starts small (most connections
// are idle) and grows to what the peer needs, up to a cap.
#include <asio/buffer.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

namespace pt::http {

class ReadBuffer {
public:
  explicit ReadBuffer(std::size_t initial = 4096) : initial_(initial) {}

  std::string_view data() const { return {storage_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Room for at least `min_free` more bytes; moves unread data to the front before growing.
  // Storage is allocated on first use and never zero-filled: a released buffer costs only a malloc.
  asio::mutable_buffer prepare(std::size_t min_free) {
    if (capacity_ - end_ < min_free) {
      if (begin_ > 0) {
        std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (capacity_ - end_ < min_free) {
        const std::size_t capacity = std::max(end_ + min_free, initial_);
        std::unique_ptr<char[]> grown(new char[capacity]);
        if (end_ > 0) std::memcpy(grown.get(), storage_.get(), end_);
        storage_ = std::move(grown);
        capacity_ = capacity;
      }
    }
    return asio::buffer(storage_.get() + end_, capacity_ - end_);
  }

  void commit(std::size_t n) { end_ += n; }

  // Frees the storage if nothing is unread: for connections about to sit idle.
  void release() {
    if (!empty()) return;
    storage_.reset();
    capacity_ = 0;
    begin_ = end_ = 0;
  }

  std::size_t capacity() const { return capacity_; }

private:
  std::size_t initial_;
  std::unique_ptr<char[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace pt::http
