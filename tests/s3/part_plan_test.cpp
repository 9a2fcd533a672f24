#include "s3/part_plan.hpp"

#include <catch2/catch.hpp>

using namespace pt::s3;

TEST_CASE("a known length in 8 MiB parts", "[s3][parts]") {
  const auto plan = PartPlan::make(20 * kMiB + 3);
  REQUIRE(plan);
  CHECK(plan->part_size() == 8 * kMiB);
  CHECK(plan->part_count(20 * kMiB + 3) == 3);
  CHECK(plan->part(1, 20 * kMiB + 3)->offset == 0);
  CHECK(plan->part(1, 20 * kMiB + 3)->length == 8 * kMiB);
  CHECK(plan->part(3, 20 * kMiB + 3)->offset == 16 * kMiB);
  CHECK(plan->part(3, 20 * kMiB + 3)->length == 4 * kMiB + 3);  // the last may be under 5 MiB
  CHECK_FALSE(plan->part(0, 20 * kMiB + 3));
  CHECK_FALSE(plan->part(4, 20 * kMiB + 3));
  CHECK(plan->part_count(16 * kMiB) == 2);
  CHECK(plan->part_count(0) == 0);
}

TEST_CASE("small and empty blobs are one PUT", "[s3][parts]") {
  const auto plan = *PartPlan::make(8 * kMiB);
  CHECK(use_single_put(0, plan));
  CHECK(use_single_put(8 * kMiB, plan));
  CHECK_FALSE(use_single_put(8 * kMiB + 1, plan));
  CHECK_FALSE(use_single_put(std::nullopt, plan));  // unknown length: parts as bytes arrive
}

TEST_CASE("part sizes stay within S3's limits", "[s3][parts]") {
  CHECK(PartPlan::make(1, 1)->part_size() == kMinPartSize);
  CHECK(PartPlan::make(1, 100 * 1024 * kMiB)->part_size() == kMaxPartSize);
  // 100 GiB would need 12800 parts of 8 MiB: the parts grow, in whole MiB, to fit in 10000.
  const std::uint64_t big = 100ull * 1024 * kMiB;
  const auto plan = PartPlan::make(big);
  REQUIRE(plan);
  CHECK(plan->part_size() == 11 * kMiB);
  CHECK(plan->part_size() % kMiB == 0);
  CHECK(plan->part_count(big) <= kMaxParts);
  // 5 TiB is the most S3 stores; it fits in 10000 parts of at most 5 GiB.
  const auto largest = PartPlan::make(kMaxObjectSize);
  REQUIRE(largest);
  CHECK(largest->part_count(kMaxObjectSize) <= kMaxParts);
  CHECK(largest->part_size() <= kMaxPartSize);
  CHECK_FALSE(PartPlan::make(kMaxObjectSize + 1));
}

TEST_CASE("an unknown length fills fixed parts up to 10000 of them", "[s3][parts]") {
  const auto plan = *PartPlan::make(std::nullopt);
  CHECK(plan.part_size() == 8 * kMiB);
  CHECK(plan.capacity() == 80000 * kMiB);
  CHECK(plan.part_number_at(0) == 1u);
  CHECK(plan.part_number_at(8 * kMiB - 1) == 1u);
  CHECK(plan.part_number_at(8 * kMiB) == 2u);
  CHECK(plan.part_number_at(plan.capacity() - 1) == kMaxParts);
  CHECK_FALSE(plan.part_number_at(plan.capacity()));
}
