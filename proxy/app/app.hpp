#pragma once
// Builds the services from the configuration and runs the server: everything main does, in a
// form the tests can call too.
#include "proxy/app/config.hpp"

namespace pt::app {

// Returns the process exit code. Throws for fatal start-up errors (unreadable CA, bad settings,
// port in use), with a message that says what to fix.
int run_proxy(const Config& config);

}  // namespace pt::app
