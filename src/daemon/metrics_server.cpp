#include "daemon/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/prometheus.h"
#include "daemon/config.h"
#include "util/fd.h"

namespace smith::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using util::UniqueFd;

constexpr int kListenBacklog = 64;
// Pause after accept() fails for lack of resources (EMFILE and the like), so the loop neither spins
// nor floods the log.
constexpr std::chrono::milliseconds kAcceptBackoff{1000};

std::string http_response(std::string_view status, std::string_view content_type, std::string_view body,
			  bool head = false, std::string_view extra_headers = {})
{
	std::string out = fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}"
				      "Connection: close\r\n\r\n",
				      status, content_type, body.size(), extra_headers);
	if (!head)
		out.append(body);
	return out;
}

std::string text_response(std::string_view status, std::string_view body, std::string_view extra_headers = {})
{
	return http_response(status, "text/plain; charset=utf-8", body, false, extra_headers);
}

// Where the request line and headers end ("\r\n\r\n", or "\n\n" from a lenient client), or npos.
size_t end_of_headers(std::string_view request)
{
	const size_t crlf = request.find("\r\n\r\n");
	const size_t lf = request.find("\n\n");
	return std::min(crlf, lf);
}

} // namespace

ListenAddress parse_listen_address(std::string_view text, std::string_view setting)
{
	auto bad = [&](std::string_view why) -> ConfigError {
		return ConfigError(fmt::format("{} '{}' {}; expected ADDRESS:PORT with a numeric address, "
					       "as 127.0.0.1:9464 or [::1]:9464",
					       setting, text, why));
	};
	// "[IPV6]:PORT" or "IPV4:PORT"
	std::string_view host, port_text;
	const bool ipv6 = !text.empty() && text.front() == '[';
	if (ipv6) {
		const size_t close = text.find(']');
		if (close == std::string_view::npos)
			throw bad("has no ']' after its IPv6 address");
		if (close + 1 == text.size())
			throw bad("has no port");
		if (text[close + 1] != ':')
			throw bad("has something other than ':PORT' after its IPv6 address");
		host = text.substr(1, close - 1);
		port_text = text.substr(close + 2);
	} else {
		const size_t colon = text.rfind(':');
		if (colon == std::string_view::npos)
			throw bad("has no port");
		host = text.substr(0, colon);
		port_text = text.substr(colon + 1);
		if (host.find(':') != std::string_view::npos)
			throw bad("has an IPv6 address without brackets");
	}
	unsigned port = 0;
	const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
	if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
	    port > 65535)
		throw bad("has no port number from 0 to 65535 after the last ':'");

	ListenAddress a;
	a.text = std::string(text);
	a.port = static_cast<uint16_t>(port);
	if (ipv6) {
		const std::string inner(host);
		sockaddr_in6 in6{};
		in6.sin6_family = AF_INET6;
		in6.sin6_port = htons(a.port);
		if (inner.find('%') != std::string::npos ||
		    inet_pton(AF_INET6, inner.c_str(), &in6.sin6_addr) != 1)
			throw bad("has no IPv6 address between the brackets");
		std::memcpy(&a.addr, &in6, sizeof(in6));
		a.len = sizeof(in6);
		return a;
	}
	const std::string host_text(host);
	sockaddr_in in{};
	in.sin_family = AF_INET;
	in.sin_port = htons(a.port);
	if (inet_pton(AF_INET, host_text.c_str(), &in.sin_addr) != 1)
		throw bad("has no IPv4 address before the port");
	std::memcpy(&a.addr, &in, sizeof(in));
	a.len = sizeof(in);
	return a;
}

struct MetricsServer::Client {
	UniqueFd fd;
	Clock::time_point deadline; // closed then, answered or not
	std::string request;	    // what it sent so far, up to kMaxRequestBytes
	std::string reply;	    // the whole answer, once the request is complete
	size_t sent = 0;	    // bytes of reply sent
	bool replying = false;	    // the request is complete: sending reply
	bool done = false;	    // to be closed
};

MetricsServer::MetricsServer(const ListenAddress &address) : address_(address.text)
{
	auto fail = [&](std::string_view what, int err) {
		throw std::runtime_error(fmt::format("cannot listen for metrics on {}: {}{}", address_, what,
						     std::strerror(err)));
	};
	const int family = reinterpret_cast<const sockaddr *>(&address.addr)->sa_family;
	UniqueFd listener(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (listener.get() < 0)
		fail("socket: ", errno);
	const int one = 1;
	if (::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		fail("SO_REUSEADDR: ", errno);
	if (family == AF_INET6 &&
	    ::setsockopt(listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		fail("IPV6_V6ONLY: ", errno);
	if (::bind(listener.get(), reinterpret_cast<const sockaddr *>(&address.addr), address.len) != 0)
		fail("", errno);
	if (::listen(listener.get(), kListenBacklog) != 0)
		fail("listen: ", errno);
	sockaddr_storage bound{};
	socklen_t len = sizeof(bound);
	if (::getsockname(listener.get(), reinterpret_cast<sockaddr *>(&bound), &len) != 0)
		fail("getsockname: ", errno);
	port_ = family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6 *>(&bound)->sin6_port)
				   : ntohs(reinterpret_cast<const sockaddr_in *>(&bound)->sin_port);
	UniqueFd stopper(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (stopper.get() < 0)
		fail("eventfd: ", errno);
	listen_fd_ = listener.release();
	stop_fd_ = stopper.release();
}

MetricsServer::~MetricsServer()
{
	stop();
}

void MetricsServer::start(std::function<std::string()> metrics_provider)
{
	if (listen_fd_ < 0)
		throw std::logic_error("MetricsServer::start() after stop()");
	if (thread_.joinable())
		throw std::logic_error("MetricsServer::start() called twice");
	metrics_provider_ = std::move(metrics_provider);
	try {
		thread_ = std::thread(&MetricsServer::run, this);
	} catch (const std::system_error &e) {
		throw std::runtime_error(
			fmt::format("cannot start the metrics thread for {}: {}", address_, e.what()));
	}
	spdlog::info("metrics: serving GET /metrics on {} (port {})", address_, port_);
}

void MetricsServer::stop() noexcept
{
	if (listen_fd_ < 0)
		return;
	if (thread_.joinable()) {
		const uint64_t one = 1;
		util::write_full(stop_fd_, &one, sizeof(one));
		thread_.join();
	}
	::close(listen_fd_);
	::close(stop_fd_);
	listen_fd_ = -1;
	stop_fd_ = -1;
}

void MetricsServer::run() noexcept
{
	std::vector<Client> clients;
	std::vector<pollfd> fds;
	for (;;) {
		// Answered or timed out: closed, after taking what the client may still have sent, so that
		// the close does not reset the connection before it has read the answer.
		const auto now = Clock::now();
		std::erase_if(clients, [&](Client &c) {
			if (!c.done && now < c.deadline)
				return false;
			char sink[4096];
			while (::recv(c.fd.get(), sink, sizeof(sink), MSG_DONTWAIT) > 0) {
			}
			return true;
		});

		fds.clear();
		fds.push_back({stop_fd_, POLLIN, 0});
		fds.push_back({clients.size() < kMaxClients ? listen_fd_ : -1, POLLIN, 0});
		auto next_deadline = Clock::time_point::max();
		for (const Client &c : clients) {
			fds.push_back({c.fd.get(), static_cast<short>(c.replying ? POLLOUT : POLLIN), 0});
			next_deadline = std::min(next_deadline, c.deadline);
		}
		int timeout = -1;
		if (!clients.empty())
			timeout = static_cast<int>(std::max<int64_t>(
				0, std::chrono::ceil<std::chrono::milliseconds>(next_deadline - Clock::now())
					   .count()));
		if (::poll(fds.data(), fds.size(), timeout) < 0) {
			if (errno == EINTR)
				continue;
			spdlog::error("metrics {}: poll: {}", address_, std::strerror(errno));
			pollfd stop = {stop_fd_, POLLIN, 0};
			if (::poll(&stop, 1, static_cast<int>(kAcceptBackoff.count())) > 0)
				return;
			continue;
		}
		if (fds[0].revents != 0)
			return;

		for (size_t i = 0; i < clients.size(); ++i) {
			Client &c = clients[i];
			if (fds[i + 2].revents == 0)
				continue;
			try {
				if (!c.replying)
					read_request(c);
				while (c.replying && !c.done && c.sent < c.reply.size()) {
					const ssize_t n = ::send(c.fd.get(), c.reply.data() + c.sent,
								 c.reply.size() - c.sent, MSG_NOSIGNAL);
					if (n < 0) {
						if (errno != EINTR && errno != EAGAIN)
							c.done = true; // the client left
						if (errno == EAGAIN)
							break;
						continue;
					}
					c.sent += static_cast<size_t>(n);
				}
				if (c.replying && c.sent == c.reply.size())
					c.done = true;
			} catch (const std::exception &e) {
				spdlog::warn("metrics {}: {}", address_, e.what());
				c.done = true;
			}
		}

		if (fds[1].revents != 0) {
			while (clients.size() < kMaxClients) {
				UniqueFd conn(::accept4(listen_fd_, nullptr, nullptr,
							SOCK_CLOEXEC | SOCK_NONBLOCK));
				if (conn.get() < 0) {
					if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
						break;
					spdlog::warn("metrics {}: accept: {}", address_,
						     std::strerror(errno));
					pollfd stop = {stop_fd_, POLLIN, 0};
					if (::poll(&stop, 1, static_cast<int>(kAcceptBackoff.count())) > 0)
						return;
					break;
				}
				Client c;
				c.fd = std::move(conn);
				c.deadline = Clock::now() + kClientTimeout;
				clients.push_back(std::move(c));
			}
		}
	}
}

void MetricsServer::read_request(Client &c)
{
	char buf[2048];
	for (;;) {
		const size_t room = kMaxRequestBytes - c.request.size();
		const ssize_t n = ::recv(c.fd.get(), buf, std::min(room, sizeof(buf)), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c.done = true;
			return;
		}
		if (n == 0) {
			c.done = true; // left before the request was complete
			return;
		}
		c.request.append(buf, static_cast<size_t>(n));
		if (const size_t end = end_of_headers(c.request); end != std::string::npos) {
			c.request.resize(end);
			c.reply = answer(c.request);
			c.replying = true;
			return;
		}
		if (c.request.size() >= kMaxRequestBytes) {
			c.reply = text_response(
				"431 Request Header Fields Too Large",
				fmt::format("request headers over {} bytes\n", kMaxRequestBytes));
			c.replying = true;
			return;
		}
	}
}

std::string MetricsServer::answer(std::string_view request)
{
	// Request line: METHOD SP TARGET SP HTTP/1.x
	std::string_view line = request.substr(0, request.find('\n'));
	if (!line.empty() && line.back() == '\r')
		line.remove_suffix(1);
	const size_t sp1 = line.find(' ');
	const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
	if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
	    line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0 || sp1 == 0 || sp2 == sp1 + 1)
		return text_response("400 Bad Request", "not an HTTP/1.x request line\n");
	const std::string_view method = line.substr(0, sp1);
	std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
	target = target.substr(0, target.find('?'));
	if (target != "/metrics")
		return text_response("404 Not Found", "not found: the metrics are at /metrics\n");
	if (method != "GET" && method != "HEAD")
		return text_response("405 Method Not Allowed", "/metrics answers GET and HEAD\n",
				     "Allow: GET, HEAD\r\n");
	std::string body;
	try {
		body = metrics_provider_();
	} catch (const std::exception &e) {
		spdlog::warn("metrics {}: {}", address_, e.what());
		return text_response("503 Service Unavailable",
				     fmt::format("metrics unavailable: {}\n", e.what()));
	}
	return http_response("200 OK", control::kPrometheusContentType, body, method == "HEAD");
}

} // namespace smith::daemon
