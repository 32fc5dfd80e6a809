// The daemon's end of the control socket (protocol in src/control/protocol.h).
//
// Contract:
//   - start() creates the socket's parent directory (0755) if it is missing,
//     replaces a stale socket file that no one answers on, binds, sets mode
//     0600 before listening, and serves from its own thread. It throws
//     std::runtime_error, naming the path and the reason, when it cannot: a
//     live daemon already answers on the path, the path exists and is not a
//     socket, or a system call fails. Calling start() twice is a logic_error.
//   - The status provider is called on the server's thread, once per status
//     request, so it must be safe to call concurrently with the pipeline
//     (return a copy of the last published JSON, taken under a lock). If it
//     throws, the client gets an {"error":...} answer and serving goes on.
//   - One client is served at a time. A client gets kRequestTimeout to send its
//     request and as long again to take the answer; a silent or slow client
//     cannot hold the server longer than that, nor delay stop().
//   - stop() ends the thread, closes the socket and removes the socket file if
//     it is still the one this server bound. It is idempotent, never throws,
//     and is also done by the destructor.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace smith::daemon {

class ControlServer {
public:
	ControlServer(std::string socket_path, std::function<std::string()> status_provider);
	~ControlServer();
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	void start();
	void stop() noexcept;

	const std::string &socket_path() const { return socket_path_; }

private:
	void run() noexcept;
	void serve(int conn_fd);
	std::string answer(std::string_view request);

	std::string socket_path_;
	std::function<std::string()> status_provider_;
	int listen_fd_ = -1;   // the bound, listening socket; -1 when stopped
	int stop_fd_ = -1;     // eventfd that wakes the server thread to stop
	dev_t socket_dev_ = 0; // identity of the socket file this server bound,
	ino_t socket_ino_ = 0; // so stop() never removes another daemon's socket
	std::thread thread_;
};

} // namespace smith::daemon
