#include "proxy/app/cache_cli.hpp"

#include "proxy/app/cache_tables.hpp"
#include "proxy/app/object_store_setup.hpp"
#include "proxy/net/resolve_overrides.hpp"
#include "proxy/net/upstream_tls.hpp"
#include "proxy/registry/object_store_eviction.hpp"

#include "cache/bucket_uses.hpp"
#include "cache/cache_admin.hpp"
#include "cache/cache_export.hpp"
#include "cache/cache_import.hpp"
#include "cache/file_io.hpp"
#include "common/units.hpp"

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace pt::app {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : std::move(fallback);
}

// The process holding RocksDB's lock on the index (a running proxy), if any. RocksDB locks
// <index>/LOCK with fcntl, so F_GETLK names the holder without disturbing it.
std::optional<pid_t> index_lock_holder(const fs::path& index_dir) {
  const int fd = ::open((index_dir / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  const bool locked = ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  if (!locked) return std::nullopt;
  return probe.l_pid;
}

// Where the admin API of a proxy on this host most likely listens.
std::string admin_base_url() {
  const auto listen = env_or("LISTEN", "0.0.0.0:3128");
  const auto colon = listen.rfind(':');
  const auto port = colon == std::string::npos ? std::string("3128") : listen.substr(colon + 1);
  return fmt::format("http://127.0.0.1:{}", port);
}

bool index_exists(const fs::path& cache_dir) {
  std::error_code ec;
  return fs::exists(cache_dir / "index" / "CURRENT", ec);
}

struct Reader {
  std::unique_ptr<cache::Index> index;
  std::unique_ptr<cache::BlobStore> blobs;
};

Reader open_reader(const fs::path& cache_dir) {
  if (!index_exists(cache_dir)) {
    throw std::runtime_error(fmt::format("no cache in {} (no index/CURRENT; set --cache-dir or CACHE_DIR)",
                                         cache_dir.string()));
  }
  Reader reader;
  reader.index = cache::Index::open_reader(cache_dir / "index");
  reader.blobs = std::make_unique<cache::BlobStore>(cache_dir);
  return reader;
}

// rm and gc write the index: only when no proxy holds it.
std::unique_ptr<cache::CacheStore> open_for_writing(const fs::path& cache_dir, std::uint64_t max_bytes,
                                                    const std::string& command, const std::string& api_hint) {
  if (!index_exists(cache_dir)) {
    throw std::runtime_error(fmt::format("no cache in {} (no index/CURRENT; set --cache-dir or CACHE_DIR)",
                                         cache_dir.string()));
  }
  if (const auto holder = index_lock_holder(cache_dir / "index")) {
    throw std::runtime_error(fmt::format(
        "the cache in {} is in use by a running pullthrough (pid {} holds {}): `cache {}` cannot change it "
        "behind the proxy's back.\nStop the proxy first, or ask it through its admin API (from the proxy's "
        "host, or with Authorization: Bearer $ADMIN_TOKEN):\n  {}",
        cache_dir.string(), *holder, (cache_dir / "index" / "LOCK").string(), command, api_hint));
  }
  cache::CacheSettings settings;
  settings.directory = cache_dir;
  settings.max_bytes = max_bytes;
  return cache::CacheStore::open(settings);
}

void print_json(const nlohmann::json& json) { std::cout << json.dump(2) << "\n"; }

int cmd_ls(const fs::path& cache_dir, const std::string& filter, bool json) {
  auto reader = open_reader(cache_dir);
  const auto snapshot = cache::take_snapshot(*reader.index, *reader.blobs);
  const auto rows = cache::list_images(snapshot, filter);
  if (json) {
    print_json(cache::to_json(rows));
  } else if (rows.empty()) {
    std::cout << (filter.empty() ? "no images cached\n" : fmt::format("nothing cached matches '{}'\n", filter));
  } else {
    std::cout << format_rows(rows, cache::now_timestamp());
  }
  return 0;
}

int cmd_stats(const fs::path& cache_dir, std::uint64_t max_bytes, bool json) {
  auto reader = open_reader(cache_dir);
  const auto snapshot = cache::take_snapshot(*reader.index, *reader.blobs);
  const auto stats = cache::cache_stats(snapshot);
  if (json) {
    auto out = cache::to_json(stats);
    out["max_bytes"] = max_bytes;
    out["cache_dir"] = cache_dir.string();
    print_json(out);
  } else {
    std::cout << "cache " << cache_dir.string() << "\n" << format_stats(stats, max_bytes);
  }
  return 0;
}

int cmd_rm(const fs::path& cache_dir, const std::vector<std::string>& texts, bool tag_only, bool dry_run,
           bool json) {
  std::vector<cache::ImageReference> references;
  for (const auto& text : texts) {
    auto parsed = cache::parse_image_reference(text);
    if (!parsed.reference) throw std::runtime_error(parsed.error);
    references.push_back(std::move(*parsed.reference));
  }
  std::string hint;
  for (const auto& reference : references) {
    hint += fmt::format("{}curl -X DELETE {}/admin/cache/{}{}", hint.empty() ? "" : "\n  ", admin_base_url(),
                        cache::cache_name(reference), tag_only ? "?tag_only=1" : "");
  }
  Reader reader;
  std::unique_ptr<cache::CacheStore> store;
  if (dry_run) {
    reader = open_reader(cache_dir);  // a dry run writes nothing: fine on a live cache
  } else {
    store = open_for_writing(cache_dir, UINT64_MAX, "rm", hint);  // (rm evicts nothing: no cap)
  }
  int status = 0;
  nlohmann::json outputs = nlohmann::json::array();
  for (const auto& reference : references) {
    const auto snapshot = store ? cache::take_snapshot(store->index(), store->blobs())
                                : cache::take_snapshot(*reader.index, *reader.blobs);
    const auto plan = cache::plan_removal(snapshot, reference, tag_only);
    if (!plan.error.empty()) {
      status = 1;
      if (json) {
        outputs.push_back(cache::to_json(reference, plan, nullptr));
      } else {
        std::cerr << "pullthrough cache rm: " << plan.error << "\n";
      }
      continue;
    }
    std::optional<cache::RemovalResult> result;
    if (store) result = cache::execute_removal(*store, plan);
    if (result && !result->errors.empty()) status = 1;
    if (json) {
      outputs.push_back(cache::to_json(reference, plan, result ? &*result : nullptr));
      continue;
    }
    std::cout << fmt::format("{} {}: {} tag entr{}, {} manifest(s), {} blob(s)", result ? "removed" : "would remove",
                             cache::cache_name(reference), plan.tags, plan.tags == 1 ? "y" : "ies", plan.manifests, plan.blobs);
    if (result) {
      std::cout << fmt::format("; {} file(s) deleted, {} freed", result->files, format_size(result->bytes));
    }
    std::cout << "\n";
    if (!result) {
      for (const auto& key : plan.keys) std::cout << "  " << key << "\n";
    }
    if (result) {
      for (const auto& error : result->errors) std::cerr << "pullthrough cache rm: " << error << "\n";
    }
  }
  if (json) print_json(outputs);
  return status;
}

int cmd_gc(const fs::path& cache_dir, std::uint64_t max_bytes, bool json) {
  const auto hint = fmt::format("curl -X POST '{}/admin/cache/gc?max_size={}'", admin_base_url(), max_bytes);
  auto store = open_for_writing(cache_dir, max_bytes, "gc", hint);
  const auto result = cache::collect_garbage(*store, max_bytes);
  if (json) {
    print_json(cache::to_json(result));
    return 0;
  }
  const auto& r = result.reconciled;
  std::cout << fmt::format(
      "gc: {} orphan file(s) removed, {} entr{} without a file dropped; evicted {} file(s) ({}) to fit {}\n"
      "cache now holds {} (was {})\n",
      r.unindexed_files + r.junk_files, r.missing_files + r.dangling_entries,
      r.missing_files + r.dangling_entries == 1 ? "y" : "ies", result.evicted.files,
      format_size(result.evicted.bytes), format_size(max_bytes), format_size(result.bytes_after),
      format_size(result.bytes_before));
  return 0;
}

// The bucket of BLOB_STORE down to a size and/or rid of what was unused for a while, from outside
// the proxy (it may be running: the bucket is shared, and deleting an object another replica reads
// only costs it a fetch upstream). Least recently used first, by the last uses recorded in this
// host's cache (read-only: a running proxy's durable records, up to an hour behind its memory);
// without a cache, by upload time. Every object is a candidate: run it where one cache sees all
// uses (one replica), or accept that other replicas' uses count only through upload times.
int cmd_bucket_gc(const fs::path& cache_dir, const cache::BucketLimits& limits, bool json) {
  Config config;
  config.blob_store = env_or("BLOB_STORE", "");
  config.s3_endpoint = env_or("S3_ENDPOINT", "");
  config.s3_region = env_or("S3_REGION", "");
  config.s3_path_style = env_or("S3_PATH_STYLE", "");
  config.aws_access_key_id = env_or("AWS_ACCESS_KEY_ID", "");
  config.aws_secret_access_key = env_or("AWS_SECRET_ACCESS_KEY", "");
  config.aws_session_token = env_or("AWS_SESSION_TOKEN", "");
  if (config.blob_store.empty()) {
    std::cerr << "pullthrough cache bucket-gc: BLOB_STORE is not set (s3://BUCKET[/PREFIX], with S3_ENDPOINT and "
                 "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)\n";
    return 2;
  }
  net::UpstreamTls tls(env_or("VERIFY_SSL", "true") != "false", env_or("UPSTREAM_CA_BUNDLE", ""));
  const net::ResolveOverrides resolve(env_or("UPSTREAM_RESOLVE", ""));
  const auto bucket = make_object_store(config, tls, resolve);
  std::unordered_map<std::string, cache::Timestamp> last_used;
  if (index_exists(cache_dir)) {
    try {
      last_used = cache::BucketUses(*open_reader(cache_dir).index).snapshot();
    } catch (const std::exception& e) {
      std::cerr << "pullthrough cache bucket-gc: " << e.what() << "; ranking by upload time alone\n";
    }
  }
  const registry::BucketEvictionRequest request{.limits = limits, .last_used = &last_used};
  registry::BucketEviction result;
  asio::io_context io;
  auto run = [&]() -> asio::awaitable<void> { result = co_await registry::evict_bucket(*bucket.store, request); };
  asio::co_spawn(io, run(), [](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  });
  io.run();
  if (json) {
    print_json({{"objects", result.objects}, {"bytes_before", result.bytes}, {"deleted", result.deleted},
                {"deleted_bytes", result.deleted_bytes}, {"error", result.error}});
  } else {
    std::string rule;
    if (limits.max_bytes > 0) rule = "to fit " + format_size(limits.max_bytes);
    if (limits.inactive.count() > 0) {
      rule += fmt::format("{}unused for over {}s", rule.empty() ? "" : ", ", limits.inactive.count());
    }
    std::cout << fmt::format("bucket-gc: {} object(s), {} in {}; deleted {} ({}) {}\n", result.objects,
                             format_size(result.bytes), bucket.store->endpoint.describe(), result.deleted,
                             format_size(result.deleted_bytes), rule);
  }
  if (!result.error.empty()) {
    std::cerr << "pullthrough cache bucket-gc: " << result.error << "\n";
    return 1;
  }
  return 0;
}

// export and import name images as `rm` does, but always one image: a tag or a digest.
std::vector<cache::ImageReference> image_references(const std::vector<std::string>& texts) {
  std::vector<cache::ImageReference> references;
  for (const auto& text : texts) {
    auto parsed = cache::parse_image_reference(text);
    if (!parsed.reference) throw std::runtime_error(parsed.error);
    if (parsed.reference->tag.empty() && parsed.reference->digest.empty()) {
      throw std::runtime_error(fmt::format("'{}' names a repository: export wants an image, registry/name:tag or "
                                           "registry/name@sha256:<hex>",
                                           text));
    }
    references.push_back(std::move(*parsed.reference));
  }
  return references;
}

int cmd_export(const fs::path& cache_dir, const fs::path& output, const std::vector<std::string>& texts) {
  const auto references = image_references(texts);
  auto reader = open_reader(cache_dir);  // read-only: fine on a live cache
  const auto plan = cache::plan_export(*reader.index, *reader.blobs, references);
  for (const auto& image : plan.images) {
    for (const auto& skipped : image.skipped) {
      std::cerr << "pullthrough cache export: " << cache::cache_name(image.reference) << ": skipped platform "
                << skipped << "\n";
    }
  }
  if (!plan.errors.empty()) {
    for (const auto& error : plan.errors) std::cerr << "pullthrough cache export: " << error << "\n";
    std::cerr << "pullthrough cache export: nothing written\n";
    return 1;
  }
  // Written beside the target and renamed at the end: a failed export leaves no archive that
  // looks whole.
  auto temp_name = (output.parent_path().empty() ? fs::path(".") : output.parent_path()) /
                   ("." + output.filename().string() + ".partial-XXXXXX");
  std::string temp = temp_name.string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("cannot create {}: {}", temp, std::strerror(errno)));
  }
  ::fchmod(fd, 0644);
  struct Cleanup {
    int fd;
    std::string path;
    bool keep = false;
    ~Cleanup() {
      ::close(fd);
      if (!keep) ::unlink(path.c_str());
    }
  } cleanup{fd, temp};
  const auto sink = [fd](std::span<const char> bytes) { return cache::write_all(fd, bytes); };
  const auto result = cache::write_export(plan, *reader.blobs, sink);
  if (!result.error.empty()) {
    std::cerr << "pullthrough cache export: " << result.error << "\n";
    return 1;
  }
  if (auto error = cache::sync_file(fd)) {
    throw std::runtime_error(fmt::format("cannot write {}: {}", output.string(), error.message()));
  }
  if (std::rename(temp.c_str(), output.c_str()) != 0) {
    throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", temp, output.string(), std::strerror(errno)));
  }
  cleanup.keep = true;
  for (const auto& image : plan.images) {
    std::cout << fmt::format("exported {} ({}, {} manifest(s), {} blob(s))\n", image.reference.str(),
                             image.top->digest.str(), image.manifests.size(), image.blobs.size());
  }
  std::cout << fmt::format("{}: {} image(s), {} file(s), {}\n", output.string(), plan.images.size(), result.files,
                           format_size(result.bytes));
  return 0;
}

// Staging holds one descriptor per blob of the archive until the commit.
void raise_open_files_limit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int cmd_import(const fs::path& cache_dir, const fs::path& archive, std::uint64_t max_bytes) {
  // Unlike rm and gc, import may start a cache: an air-gapped site's first one.
  if (index_exists(cache_dir)) {
    if (const auto holder = index_lock_holder(cache_dir / "index")) {
      throw std::runtime_error(fmt::format("the cache in {} is in use by a running pullthrough (pid {} holds {}): "
                                           "stop the proxy, import, then start it again",
                                           cache_dir.string(), *holder, (cache_dir / "index" / "LOCK").string()));
    }
  }
  const int fd = ::open(archive.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", archive.string(), std::strerror(errno)));
  struct CloseOnExit {
    int fd;
    ~CloseOnExit() { ::close(fd); }
  } close_on_exit{fd};
  raise_open_files_limit();

  cache::CacheSettings settings;
  settings.directory = cache_dir;
  settings.max_bytes = max_bytes;
  auto store = cache::CacheStore::open(settings);
  cache::ImportLimits limits;
  limits.max_total_bytes = max_bytes;
  const auto source = [fd](std::span<char> out, std::error_code& ec) -> std::size_t {
    for (;;) {
      const auto n = ::read(fd, out.data(), out.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      ec = {errno, std::system_category()};
      return 0;
    }
  };
  auto staged = cache::stage_import(store->blobs(), source, limits);
  if (!staged.staged) {
    std::cerr << fmt::format("pullthrough cache import: {} refused: {}\nthe cache is unchanged\n", archive.string(),
                             staged.error);
    return 1;
  }
  for (const auto& note : staged.staged->notes) std::cerr << "pullthrough cache import: " << note << "\n";
  for (const auto& image : staged.staged->images) {
    for (const auto& note : image.notes) std::cerr << "pullthrough cache import: " << note << "\n";
  }
  const auto result = cache::commit_import(*store, *staged.staged, cache::now_timestamp());
  if (!result.error.empty()) {
    std::cerr << fmt::format("pullthrough cache import: {}; what was imported is taken out again\n", result.error);
    return 1;
  }
  for (const auto& image : staged.staged->images) {
    std::cout << fmt::format("imported {} ({}, {} manifest(s), {} blob(s))\n", image.name, image.top().digest.str(),
                             image.manifests.size(), image.blobs.size());
  }
  std::cout << fmt::format("{} image(s): {} entr{} added ({} file(s), {}), {} already cached\n",
                           staged.staged->images.size(), result.entries_added, result.entries_added == 1 ? "y" : "ies",
                           result.files_written, format_size(result.bytes_written), result.entries_present);
  return 0;
}

}  // namespace

int run_cache_cli(int argc, char** argv) {
  // Logs (RocksDB warnings, reconcile notes) go to stderr: stdout is for tables and JSON.
  spdlog::set_default_logger(spdlog::stderr_color_st("cache"));
  spdlog::set_level(spdlog::level::warn);

  CLI::App app{"Inspect and clean pullthrough's cache directory, and carry images to another one.\n"
               "ls, stats and export work on a live cache; rm and gc need the proxy stopped (or use its admin API:\n"
               "GET /admin/cache, GET /admin/cache/stats, DELETE /admin/cache/<ref>, POST /admin/cache/gc);\n"
               "import needs the proxy stopped.",
               "pullthrough cache"};
  app.fallthrough();
  app.require_subcommand(1, 1);
  std::string cache_dir = env_or("CACHE_DIR", "/docker_mirror_cache");
  std::string max_size = env_or("CACHE_MAX_SIZE", "32g");
  bool json = false;
  app.add_option("--cache-dir", cache_dir, "The cache directory (env CACHE_DIR)")->capture_default_str();

  auto* ls = app.add_subcommand("ls", "List cached images: repository, tag, digest, size, last access");
  std::string filter;
  ls->add_option("filter", filter, "Only repositories starting with this (registry[/name])");
  ls->add_flag("--json", json, "JSON instead of a table");

  auto* stats = app.add_subcommand("stats", "Totals, and per registry");
  stats->add_flag("--json", json, "JSON instead of a table");
  stats->add_option("--max-size", max_size, "The size cap to compare with (env CACHE_MAX_SIZE)")
      ->capture_default_str();

  auto* rm = app.add_subcommand("rm", "Remove an image, a tag or a digest and the blobs only it used");
  std::vector<std::string> references;
  bool tag_only = false;
  bool dry_run = false;
  rm->add_option("reference", references, "registry/name, registry/name:tag or registry/name@sha256:...")
      ->required();
  rm->add_flag("--tag-only", tag_only, "Remove only the tag (its next pull asks upstream again)");
  rm->add_flag("-n,--dry-run", dry_run, "Print what would be removed; change nothing");
  rm->add_flag("--json", json, "JSON output");

  auto* gc = app.add_subcommand("gc", "Remove orphan files, then evict least recently used blobs down to the cap");
  gc->add_option("--max-size", max_size, "Evict down to this size, e.g. 10g (env CACHE_MAX_SIZE)")
      ->capture_default_str();
  gc->add_flag("--json", json, "JSON output");

  auto* bucket_gc = app.add_subcommand(
      "bucket-gc", "Delete the least recently used objects of BLOB_STORE's bucket down to a size, and/or those "
                   "unused for a while (env BLOB_STORE, S3_*, AWS_*)");
  std::string bucket_max = env_or("S3_MAX_SIZE", "");
  std::string bucket_inactive = env_or("S3_INACTIVE", "");
  // One of them at least, from the command line or the environment (checked when run).
  bucket_gc->add_option("--max-size", bucket_max, "Delete down to this size, e.g. 500g (env S3_MAX_SIZE)");
  bucket_gc->add_option("--inactive", bucket_inactive, "Delete objects unused for this long, e.g. 30d (env S3_INACTIVE)");
  bucket_gc->add_flag("--json", json, "JSON output");

  auto* export_cmd = app.add_subcommand(
      "export", "Write cached images as an OCI image layout in a tar (every cached platform), for another site");
  std::string output;
  std::vector<std::string> images;
  export_cmd->add_option("-o,--output", output, "The archive to write (FILE.tar)")->required();
  export_cmd->add_option("image", images, "registry/name:tag or registry/name@sha256:..., e.g. docker.io/library/alpine:3.19")
      ->required();

  auto* import_cmd = app.add_subcommand(
      "import", "Index the images of an OCI layout tar (from `cache export`) as if pulled; all or nothing");
  std::string archive;
  import_cmd->add_option("archive", archive, "The archive (FILE.tar)")->required();
  import_cmd->add_option("--max-size", max_size, "The cache's size cap (env CACHE_MAX_SIZE): a larger archive is refused")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // (CLI11's own codes are not our usage-error convention)
  }

  std::uint64_t max_bytes = 0;
  try {
    max_bytes = parse_size(max_size);
  } catch (const std::invalid_argument& e) {
    std::cerr << "pullthrough cache: --max-size/CACHE_MAX_SIZE: " << e.what() << "\n";
    return 2;
  }
  try {
    if (*ls) return cmd_ls(cache_dir, filter, json);
    if (*stats) return cmd_stats(cache_dir, max_bytes, json);
    if (*rm) return cmd_rm(cache_dir, references, tag_only, dry_run, json);
    if (*gc) return cmd_gc(cache_dir, max_bytes, json);
    if (*bucket_gc) {
      cache::BucketLimits limits;
      if (!bucket_max.empty()) limits.max_bytes = parse_size(bucket_max);
      if (!bucket_inactive.empty()) {
        limits.inactive = std::chrono::duration_cast<std::chrono::seconds>(parse_duration(bucket_inactive));
      }
      if (limits.max_bytes == 0 && limits.inactive.count() <= 0) {
        std::cerr << "pullthrough cache bucket-gc: give --max-size and/or --inactive (not 0)\n";
        return 2;
      }
      return cmd_bucket_gc(cache_dir, limits, json);
    }
    if (*export_cmd) return cmd_export(cache_dir, output, images);
    if (*import_cmd) return cmd_import(cache_dir, archive, max_bytes);
  } catch (const std::exception& e) {
    std::cerr << "pullthrough cache: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

}  // namespace pt::app
