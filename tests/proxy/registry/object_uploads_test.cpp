#include "proxy/registry/object_uploads.hpp"

#include "s3/part_plan.hpp"

#include <catch2/catch.hpp>

using namespace pt::registry;
using pt::cache::RequestKind;

namespace {
pt::cache::Digest digest_of(char c) { return *pt::cache::Digest::parse("sha256:" + std::string(64, c)); }
UploadJob content(char c) { return UploadJob{.digest = digest_of(c), .media_type = "application/octet-stream"}; }
UploadJob tag(std::string key) { return UploadJob{.tag_key = std::move(key)}; }
constexpr std::uint64_t MiB = pt::s3::kMiB;
}  // namespace

TEST_CASE("streaming uploads: large content by digest, of known length, fetched from upstream") {
  CHECK(stream_upload_wanted(RequestKind::blob, false, 100 * MiB));
  CHECK(stream_upload_wanted(RequestKind::manifest_by_digest, false, 9 * MiB));
  // A single PUT (it fits in one part) is the object itself: it waits for the verified file.
  CHECK_FALSE(stream_upload_wanted(RequestKind::blob, false, 8 * MiB));
  CHECK_FALSE(stream_upload_wanted(RequestKind::blob, false, 0));
  // No length: the parts' plan and the final part are unknown (the post-commit path knows them).
  CHECK_FALSE(stream_upload_wanted(RequestKind::blob, false, std::nullopt));
  // From the bucket itself: it is there already.
  CHECK_FALSE(stream_upload_wanted(RequestKind::blob, true, 100 * MiB));
  // Tags' manifests (and their records), referrers lists: the post-commit path.
  CHECK_FALSE(stream_upload_wanted(RequestKind::manifest_by_tag, false, 100 * MiB));
  CHECK_FALSE(stream_upload_wanted(RequestKind::referrers, false, 100 * MiB));
  // Past S3's 5 TiB: not at all.
  CHECK_FALSE(stream_upload_wanted(RequestKind::blob, false, pt::s3::kMaxObjectSize + 1));
}

TEST_CASE("upload book: the queue runs a few at once, the rest wait, a duplicate is dropped") {
  UploadBook book(2, 8);
  CHECK(book.submit(content('a')));
  CHECK(book.submit(tag("tag/r/x:1")));
  CHECK_FALSE(book.submit(content('b')));  // waits
  CHECK_FALSE(book.submit(content('b')));  // dropped: queued already
  CHECK_FALSE(book.submit(content('a')));  // dropped: uploading
  CHECK(book.running() == 2);
  CHECK(book.waiting() == 1);
  const auto next = book.finished(content('a').id());
  REQUIRE(next);
  CHECK(next->id() == content('b').id());
  CHECK_FALSE(book.finished(next->id()));
  CHECK_FALSE(book.finished(tag("tag/r/x:1").id()));
  CHECK(book.running() == 0);
  CHECK(book.submit(content('a')));  // done: a later commit of it is uploaded (HEAD finds it there)
}

TEST_CASE("upload book: a digest being streamed is not uploaded again after its commit") {
  UploadBook book(2, 8);
  REQUIRE(book.begin_stream(content('a').id()));
  CHECK_FALSE(book.begin_stream(content('a').id()));  // the same digest's second fill (another registry)
  CHECK_FALSE(book.submit(content('a')));             // held back, not started
  CHECK(book.running() == 0);
  CHECK(book.streaming() == 1);
  CHECK_FALSE(book.end_stream(content('a').id(), true));  // streamed: the held upload is dropped
  CHECK(book.streaming() == 0);
  CHECK(book.running() == 0);
}

TEST_CASE("upload book: a stream that failed hands its digest to the post-commit upload") {
  UploadBook book(2, 8);
  REQUIRE(book.begin_stream(content('a').id()));
  CHECK_FALSE(book.submit(content('a')));
  CHECK_FALSE(book.submit(content('a')));  // one held upload, however many commits
  const auto now = book.end_stream(content('a').id(), false);
  REQUIRE(now);  // the bucket failed the stream; the fill's file is verified: upload it
  CHECK(now->id() == content('a').id());
  CHECK(book.running() == 1);

  // A stream that failed with nothing held back (its fill failed: no commit follows) starts
  // nothing, and leaves the digest free for a later fill.
  REQUIRE(book.begin_stream(content('b').id()));
  CHECK_FALSE(book.end_stream(content('b').id(), false));
  CHECK(book.begin_stream(content('b').id()));
}

TEST_CASE("upload book: the held upload waits its turn when the queue is busy") {
  UploadBook book(1, 8);
  REQUIRE(book.begin_stream(content('a').id()));
  CHECK(book.submit(content('b')));
  CHECK_FALSE(book.submit(content('a')));
  CHECK_FALSE(book.end_stream(content('a').id(), false));  // queued behind b
  CHECK(book.waiting() == 1);
  const auto next = book.finished(content('b').id());
  REQUIRE(next);
  CHECK(next->id() == content('a').id());
}

TEST_CASE("upload book: no stream of a digest the queue has, and at most so many streams") {
  UploadBook book(2, 2);
  CHECK(book.submit(content('a')));
  CHECK_FALSE(book.begin_stream(content('a').id()));  // uploading from the file already
  CHECK(book.begin_stream(content('b').id()));
  CHECK(book.begin_stream(content('c').id()));
  CHECK_FALSE(book.begin_stream(content('d').id()));  // the limit: d goes by the post-commit queue
  CHECK(book.submit(content('d')));
  CHECK_FALSE(book.end_stream(content('b').id(), true));
  CHECK(book.begin_stream(content('e').id()));  // a slot is free again
}
