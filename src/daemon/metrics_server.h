// The optional Prometheus listener (setting metrics_listen, option --metrics-listen): a small
// HTTP/1.1 server that answers GET /metrics with the status snapshot in Prometheus text format
// (src/control/prometheus.h says why by hand and not with prometheus-cpp).
//
// Contract:
//   - The constructor binds and listens on the address (SO_REUSEADDR, so a restart does not wait
//     for old connections in TIME_WAIT), and throws std::runtime_error naming the address and the
//     reason when it cannot (the port is in use, the address is not this host's): a start error.
//   - start() serves from a thread of its own. The provider is called there, once per GET or HEAD
//     of /metrics, so it must be safe to call concurrently with the pipeline (a copy of the last
//     published snapshot, taken under a lock, rendered here). If it throws, the client gets a 503
//     and serving goes on. Calling start() twice is a logic_error.
//   - Requests: GET or HEAD of /metrics (a query string is ignored) -> 200 with Content-Type
//     text/plain; version=0.0.4; other paths -> 404; other methods on /metrics -> 405; a request
//     that is not HTTP/1.x -> 400; request headers over kMaxRequestBytes -> 431. Every answer has a
//     Content-Length and closes the connection. A request body is not read.
//   - Up to kMaxClients connections are served at once, each within kClientTimeout from accept to the
//     last byte of the answer, after which it is closed: a silent, slow or hostile client holds one
//     slot for that long at most, never the pipeline (which only publishes snapshots) nor stop().
//     While every slot is taken, new connections wait in the listen backlog.
//   - stop() ends the thread and closes every socket. It is idempotent, never throws, and is also
//     done by the destructor.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace smith::daemon {

// An address to listen on, parsed from "ADDR:PORT".
struct ListenAddress {
	sockaddr_storage addr{}; // sockaddr_in or sockaddr_in6
	socklen_t len = 0;
	uint16_t port = 0; // host order
	std::string text;  // as given, for messages
};

// Parses "IPV4:PORT" (127.0.0.1:9464) or "[IPV6]:PORT" ([::1]:9464) with a port from 0 to 65535.
// Addresses are numeric: no name is looked up. Throws ConfigError (config.h), naming `setting` and
// the value, with the form expected.
ListenAddress parse_listen_address(std::string_view text, std::string_view setting = "metrics_listen");

class MetricsServer {
public:
	static constexpr size_t kMaxRequestBytes = 8192; // request line and headers
	static constexpr size_t kMaxClients = 16;
	static constexpr std::chrono::seconds kClientTimeout{5};

	explicit MetricsServer(const ListenAddress &address);
	~MetricsServer();
	MetricsServer(const MetricsServer &) = delete;
	MetricsServer &operator=(const MetricsServer &) = delete;

	void start(std::function<std::string()> metrics_provider);
	void stop() noexcept;

	// The port it listens on (the one given, or the kernel's choice for port 0).
	uint16_t port() const { return port_; }
	const std::string &address() const { return address_; }

private:
	struct Client;
	void run() noexcept;
	// Reads what `c` sent so far: once the headers are complete (or too long) its answer is in
	// c.reply and c.replying is set; c.done when the client left or the read failed.
	void read_request(Client &c);
	std::string answer(std::string_view request);

	std::string address_;				// as configured, for messages
	uint16_t port_ = 0;				// bound port, host order
	std::function<std::string()> metrics_provider_; // the text of GET /metrics (start())
	int listen_fd_ = -1;				// the bound, listening socket; -1 when stopped
	int stop_fd_ = -1;				// eventfd that wakes the server thread to stop
	std::thread thread_;
};

} // namespace smith::daemon
