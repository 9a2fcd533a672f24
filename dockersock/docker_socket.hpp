#pragma once
// `pullthrough docker-socket`: a Docker Engine API socket in front of the real one that sends
// image pulls through a pullthrough mirror. See docs/docker-socket.md.

namespace pt::dockersock {

// The subcommand's main: argv[0] is "docker-socket". Returns the process exit code.
int run(int argc, char** argv);

}  // namespace pt::dockersock
