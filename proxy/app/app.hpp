#pragma once
// Builds the services from the configuration and runs the server: everything main does, in a
// form the tests can call too.
#include "proxy/app/config.hpp"

#include <functional>

namespace pt::app {

// Returns the process exit code. Throws for fatal start-up errors (unreadable CA, bad settings,
// port in use), with a message that says what to fix. `reread` gives the configuration anew (the
// command line, environment and configuration file read again) for SIGHUP; empty: SIGHUP re-reads
// only AUTH_REGISTRIES_FILE.
int run_proxy(const Config& config, std::function<ConfigResult()> reread = {});

}  // namespace pt::app
