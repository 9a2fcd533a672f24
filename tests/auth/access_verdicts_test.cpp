#include "auth/access_verdicts.hpp"

#include <catch2/catch.hpp>

using pt::auth::AccessVerdicts;

TEST_CASE("Accepted credentials are remembered per registry and repository, briefly", "[verdicts]") {
  AccessVerdicts verdicts(std::chrono::seconds(60));
  const auto now = AccessVerdicts::Clock::now();
  CHECK_FALSE(verdicts.accepted("Bearer a", "reg", "team/app", now));
  verdicts.remember("Bearer a", "reg", "team/app", now);
  CHECK(verdicts.accepted("Bearer a", "reg", "team/app", now + std::chrono::seconds(59)));
  CHECK_FALSE(verdicts.accepted("Bearer a", "reg", "team/app", now + std::chrono::seconds(61)));
  CHECK_FALSE(verdicts.accepted("Bearer b", "reg", "team/app", now));
  CHECK_FALSE(verdicts.accepted("Bearer a", "reg", "team/other", now));
  CHECK_FALSE(verdicts.accepted("Bearer a", "other-reg", "team/app", now));
  CHECK_FALSE(verdicts.accepted("", "reg", "team/app", now));
}

TEST_CASE("The verdict cache stays bounded", "[verdicts]") {
  AccessVerdicts verdicts(std::chrono::seconds(60), 10);
  const auto now = AccessVerdicts::Clock::now();
  for (int i = 0; i < 25; ++i) verdicts.remember("Bearer " + std::to_string(i), "reg", "app", now);
  CHECK(verdicts.accepted("Bearer 24", "reg", "app", now));
}
