// MetricsServer: the Prometheus listener over real TCP sockets on the loopback address: what each
// request gets, and that silent, slow or oversized clients neither block other scrapes nor stop().
// parse_listen_address and the metrics_listen setting through the real smithd binary.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/metrics_server.h"
#include "util/fd.h"

using smith::daemon::ConfigError;
using smith::daemon::ListenAddress;
using smith::daemon::MetricsServer;
using smith::daemon::parse_listen_address;
using smith::util::UniqueFd;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string kBody = "# HELP smith_x X\n# TYPE smith_x gauge\nsmith_x 1\n";

std::string metrics_provider()
{
	return kBody;
}

UniqueFd connect_to(uint16_t port)
{
	UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(fd.get() >= 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(::connect(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
	return fd;
}

void send_all(int fd, std::string_view data)
{
	size_t sent = 0;
	while (sent < data.size()) {
		const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
		if (n < 0)
			return; // the server closed: what it answered is still there to read
		sent += static_cast<size_t>(n);
	}
}

// Everything the server sends until it closes (at most `timeout`).
std::string read_all(int fd, std::chrono::milliseconds timeout = 10s)
{
	std::string out;
	const auto deadline = Clock::now() + timeout;
	char buf[4096];
	while (Clock::now() < deadline) {
		pollfd p = {fd, POLLIN, 0};
		if (::poll(&p, 1, 100) <= 0)
			continue;
		const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		out.append(buf, static_cast<size_t>(n));
	}
	return out;
}

std::string ask(uint16_t port, std::string_view request)
{
	UniqueFd fd = connect_to(port);
	send_all(fd.get(), request);
	return read_all(fd.get());
}

ListenAddress loopback_any_port()
{
	return parse_listen_address("127.0.0.1:0");
}

std::string response(std::string_view status, std::string_view type, std::string_view body,
		     std::string_view extra = {})
{
	return std::string("HTTP/1.1 ") + std::string(status) + "\r\nContent-Type: " + std::string(type) +
	       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra) +
	       "Connection: close\r\n\r\n" + std::string(body);
}

std::string text_response(std::string_view status, std::string_view body, std::string_view extra = {})
{
	return response(status, "text/plain; charset=utf-8", body, extra);
}

const std::string kOk = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", kBody);

} // namespace

TEST_CASE("metrics listen address: numeric IPv4 or bracketed IPv6, and a port", "[unit][metrics]")
{
	const ListenAddress v4 = parse_listen_address("127.0.0.1:9464");
	CHECK(v4.port == 9464);
	CHECK(v4.text == "127.0.0.1:9464");
	CHECK(v4.len == sizeof(sockaddr_in));
	const auto *in = reinterpret_cast<const sockaddr_in *>(&v4.addr);
	CHECK(in->sin_family == AF_INET);
	CHECK(ntohs(in->sin_port) == 9464);
	CHECK(ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK);

	const ListenAddress v6 = parse_listen_address("[::1]:65535");
	CHECK(v6.port == 65535);
	CHECK(v6.len == sizeof(sockaddr_in6));
	const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&v6.addr);
	CHECK(in6->sin6_family == AF_INET6);
	CHECK(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	CHECK(parse_listen_address("0.0.0.0:1").port == 1);

	using Catch::Contains;
	const char *form = "expected ADDRESS:PORT with a numeric address, as 127.0.0.1:9464 or [::1]:9464";
	for (const char *bad :
	     {"", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:94x",
	      "127.0.0.1: 9464", "localhost:9464", "::1:9464", "[::1]", "[::1:9464", "[localhost]:9464",
	      "[fe80::1%eth0]:9464", "1.2.3:9464", ":9464"}) {
		INFO("'" << bad << "'");
		CHECK_THROWS_AS(parse_listen_address(bad), ConfigError);
		CHECK_THROWS_WITH(parse_listen_address(bad),
				  Contains(std::string("metrics_listen '") + bad + "'") && Contains(form));
	}
}

TEST_CASE("metrics server: GET /metrics is the provider's text in format 0.0.4 and other requests are "
	  "refused by status",
	  "[unit][metrics]")
{
	std::atomic<int> calls{0};
	MetricsServer server(loopback_any_port());
	REQUIRE(server.port() != 0);
	server.start([&calls] {
		++calls;
		return metrics_provider();
	});
	const uint16_t port = server.port();

	CHECK(ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n") == kOk);
	CHECK(ask(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n") == kOk);
	CHECK(ask(port, "GET /metrics HTTP/1.1\n\n") == kOk);
	CHECK(calls == 3);
	CHECK(ask(port, "HEAD /metrics HTTP/1.1\r\n\r\n") ==
	      kOk.substr(0, kOk.size() - kBody.size())); // the headers, Content-Length of the body
	CHECK(ask(port, "GET / HTTP/1.1\r\n\r\n") ==
	      text_response("404 Not Found", "not found: the metrics are at /metrics\n"));
	CHECK(ask(port, "GET /metricsx HTTP/1.1\r\n\r\n") ==
	      text_response("404 Not Found", "not found: the metrics are at /metrics\n"));
	CHECK(ask(port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc") ==
	      text_response("405 Method Not Allowed", "/metrics answers GET and HEAD\n",
			    "Allow: GET, HEAD\r\n"));
	for (const char *bad :
	     {"GET /metrics\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
	      "\r\n\r\n", "GET /metrics HTTP/1.1 extra\r\n\r\n"}) {
		INFO(bad);
		CHECK(ask(port, bad) == text_response("400 Bad Request", "not an HTTP/1.x request line\n"));
	}
	// Headers past the bound: 431, not a wait for more.
	std::string huge =
		"GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(2 * MetricsServer::kMaxRequestBytes, 'a');
	CHECK(ask(port, huge) ==
	      text_response("431 Request Header Fields Too Large", "request headers over 8192 bytes\n"));
	CHECK(calls == 4); // HEAD asked too; nothing else did
	server.stop();
}

TEST_CASE("metrics server: a provider that throws gives 503, and serving goes on", "[unit][metrics]")
{
	bool fail = true;
	MetricsServer server(loopback_any_port());
	server.start([&fail]() -> std::string {
		if (fail)
			throw std::runtime_error("no snapshot yet");
		return metrics_provider();
	});
	CHECK(ask(server.port(), "GET /metrics HTTP/1.1\r\n\r\n") ==
	      text_response("503 Service Unavailable", "metrics unavailable: no snapshot yet\n"));
	fail = false;
	CHECK(ask(server.port(), "GET /metrics HTTP/1.1\r\n\r\n") == kOk);
}

TEST_CASE("metrics server: silent and slow clients hold no one else up, and are closed after the timeout",
	  "[unit][metrics]")
{
	MetricsServer server(loopback_any_port());
	server.start(metrics_provider);
	const uint16_t port = server.port();

	// Every slot but one taken by clients that send nothing, or half a request.
	std::vector<UniqueFd> idle;
	for (size_t i = 0; i + 1 < MetricsServer::kMaxClients; ++i) {
		idle.push_back(connect_to(port));
		if (i % 2 == 1)
			send_all(idle.back().get(), "GET /metr");
	}
	const auto t0 = Clock::now();
	CHECK(ask(port, "GET /metrics HTTP/1.1\r\n\r\n") == kOk);
	CHECK(Clock::now() - t0 < 2s);

	// A client that takes no answer: the server sends what the socket buffers hold and goes on.
	UniqueFd reader_less = connect_to(port);
	send_all(reader_less.get(), "GET /metrics HTTP/1.1\r\n\r\n");
	CHECK(ask(port, "GET /metrics HTTP/1.1\r\n\r\n") == kOk);

	// The idle ones are closed once their time is up: each reads the end of the stream, unanswered.
	const auto t1 = Clock::now();
	for (UniqueFd &fd : idle)
		CHECK(read_all(fd.get(), MetricsServer::kClientTimeout + 5s) == "");
	CHECK(Clock::now() - t1 < MetricsServer::kClientTimeout + 3s);
	CHECK(Clock::now() - t0 >= MetricsServer::kClientTimeout - 1s);
}

TEST_CASE("metrics server: stop() returns at once with clients connected", "[unit][metrics]")
{
	MetricsServer server(loopback_any_port());
	server.start(metrics_provider);
	UniqueFd silent = connect_to(server.port());
	UniqueFd half = connect_to(server.port());
	send_all(half.get(), "GET /metrics HTTP/1.1\r\n");
	std::this_thread::sleep_for(100ms);
	const auto t0 = Clock::now();
	server.stop();
	CHECK(Clock::now() - t0 < 1s);
	CHECK(read_all(silent.get(), 2s) == "");
	server.stop(); // idempotent
}

TEST_CASE("metrics server: a port in use is an error naming the address", "[unit][metrics]")
{
	MetricsServer first(loopback_any_port());
	const std::string taken = "127.0.0.1:" + std::to_string(first.port());
	CHECK_THROWS_WITH(MetricsServer(parse_listen_address(taken)),
			  "cannot listen for metrics on " + taken + ": Address already in use");
	CHECK_THROWS_WITH(MetricsServer(parse_listen_address("192.0.2.1:9464")),
			  "cannot listen for metrics on 192.0.2.1:9464: Cannot assign requested address");
}

TEST_CASE("smithd: metrics_listen from the config file or --metrics-listen, checked at start",
	  "[unit][metrics][cli]")
{
	auto run = [](const std::string &args) {
		const std::string cmd = std::string(SMITHD_PATH) + " " + args + " 2>&1";
		FILE *p = popen(cmd.c_str(), "r");
		REQUIRE(p != nullptr);
		std::string out;
		std::array<char, 4096> buf;
		size_t n;
		while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
			out.append(buf.data(), n);
		const int status = pclose(p);
		return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
	};
	auto [code, out] = run("--foreground --config=/dev/null --metrics-listen=localhost:9464");
	CHECK(code == 1);
	CHECK(out == "smithd: metrics_listen 'localhost:9464' has no IPv4 address before the port; expected "
		     "ADDRESS:PORT with a numeric address, as 127.0.0.1:9464 or [::1]:9464\n");

	std::tie(code, out) = run("--foreground --config=/dev/null --metrics-listen=127.0.0.1:0");
	CHECK(code == 1);
	CHECK(out ==
	      "smithd: metrics_listen '127.0.0.1:0' needs a port from 1 to 65535, where Prometheus can "
	      "find it\n");

	char tmpl[] = "/tmp/smith-metrics-cli-XXXXXX";
	REQUIRE(mkdtemp(tmpl) != nullptr);
	const std::string config = std::string(tmpl) + "/smithd.yaml";
	FILE *f = fopen(config.c_str(), "w");
	REQUIRE(f != nullptr);
	fputs("metrics_listen: \"[::1]\"\n", f);
	fclose(f);
	std::tie(code, out) = run("--foreground --config=" + config);
	CHECK(code == 1);
	CHECK(out.find("metrics_listen '[::1]' has no port") != std::string::npos);
	// The option wins over the file.
	std::tie(code, out) = run("--foreground --config=" + config + " --metrics-listen=bad:1");
	CHECK(code == 1);
	CHECK(out.find("metrics_listen 'bad:1'") != std::string::npos);
	std::remove(config.c_str());
	rmdir(tmpl);
}
