#pragma once
// `pullthrough cache ls|stats|rm|gc`: cache management on the cache directory.
//
// ls and stats read through a RocksDB secondary instance, so they work while the proxy runs.
// rm and gc write: on a stopped cache they work directly; while a proxy holds the index they
// refuse with the admin API command to use instead (proxy/admin_api.hpp).
namespace pt::app {

// argv[0] is "cache". Returns the process exit code: 0 done, 1 failed, 2 usage error.
int run_cache_cli(int argc, char** argv);

}  // namespace pt::app
