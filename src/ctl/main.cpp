// smithctl: talks to smithd over its control socket (src/control/protocol.h), and reads the
// heartbeats of many smithd from Kafka (`smithctl fleet`).
//
// Exit status: 0 on success (and for `fleet --watch` ended by SIGINT), 1 when the daemon or the
// brokers cannot be reached or answer with an error, and CLI11's codes for command-line mistakes.
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "control/protocol.h"
#include "ctl/control_client.h"
#include "ctl/fleet_view.h"
#include "ctl/heartbeat_reader.h"
#include "ctl/status_parse.h"
#include "ctl/status_view.h"
#include "smith/version.h"

namespace {

int print_status(const std::string &socket_path, bool json)
{
	const std::string answer = smith::ctl::control_request(socket_path, smith::control::kStatusRequest);
	if (json) {
		smith::ctl::check_answer(answer);
		fmt::print("{}\n", answer);
	} else {
		fmt::print("{}", smith::ctl::format_status(smith::ctl::status_from_json(answer)));
	}
	if (std::fflush(stdout) != 0)
		throw std::runtime_error("cannot write to standard output");
	return 0;
}

void write_out(const std::string &text)
{
	fmt::print("{}", text);
	if (std::fflush(stdout) != 0)
		throw std::runtime_error("cannot write to standard output");
}

double wall_clock_seconds()
{
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::atomic<bool> interrupted{false}; // by SIGINT or SIGTERM during `fleet --watch`

void on_interrupt(int)
{
	interrupted = true;
}

struct FleetOptions {
	smith::ctl::HeartbeatReaderOptions reader;
	bool json = false;
	bool watch = false;
	double interval_seconds = 2; // --watch: between redraws
};

// The rows once, as text or JSON, from everything on the topic now.
int print_fleet(const FleetOptions &o)
{
	smith::ctl::HeartbeatReader reader(o.reader);
	smith::ctl::Fleet fleet;
	reader.read_to_end([&](std::string_view message) { fleet.add(message); }, interrupted);
	const auto rows = fleet.rows(wall_clock_seconds());
	if (!o.json) {
		write_out(smith::ctl::format_fleet(rows, fleet.unreadable(), fleet.first_error()));
		return 0;
	}
	if (fleet.unreadable() > 0)
		fmt::print(
			stderr,
			"smithctl: {} messages on topic {} could not be read as heartbeats; the first: {}\n",
			fleet.unreadable(), smith::ctl::printable(o.reader.topic),
			smith::ctl::printable(fleet.first_error()));
	write_out(smith::ctl::fleet_to_json(rows) + "\n");
	return 0;
}

// --watch: the screen cleared and drawn again every interval, with the heartbeats that arrived in
// between, until SIGINT or SIGTERM; then exit 0, as `watch` does.
int watch_fleet(const FleetOptions &o)
{
	struct sigaction sa = {};
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);

	smith::ctl::HeartbeatReader reader(o.reader);
	smith::ctl::Fleet fleet;
	const auto add = [&](std::string_view message) { fleet.add(message); };
	reader.read_to_end(add, interrupted);
	const auto interval = std::chrono::milliseconds(static_cast<long>(o.interval_seconds * 1000));
	while (!interrupted) {
		const time_t now = time(nullptr);
		tm utc{};
		gmtime_r(&now, &utc);
		std::string screen = "\x1b[H\x1b[2J"; // cursor home, clear the screen
		screen += fmt::format(
			"Every {}s: smithctl fleet --brokers {} --topic {}    {:%Y-%m-%d %H:%M:%S} UTC\n\n",
			o.interval_seconds, smith::ctl::printable(o.reader.brokers),
			smith::ctl::printable(o.reader.topic), utc);
		screen += smith::ctl::format_fleet(fleet.rows(wall_clock_seconds()), fleet.unreadable(),
						   fleet.first_error());
		if (const std::string error = reader.last_error(); !error.empty())
			screen += "kafka: " + smith::ctl::printable(error) + "\n";
		write_out(screen);
		reader.read_for(interval, add, interrupted);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{
		"Query smithd, the smith host security event collector, and the heartbeats of many in Kafka.",
		"smithctl"};
	app.set_version_flag("--version", std::string("smithctl ") + SMITH_VERSION);
	app.require_subcommand(1);

	bool json = false;
	std::string socket_path = smith::control::kDefaultSocketPath;
	CLI::App *status =
		app.add_subcommand("status", "Show the daemon's state: backend, hooks, counters, sink.");
	status->add_flag("--json", json, "Print the daemon's status as one JSON object");
	status->add_option("--socket", socket_path, "Control socket of smithd")->capture_default_str();

	FleetOptions fleet_options;
	double timeout_seconds = 10;
	CLI::App *fleet = app.add_subcommand(
		"fleet", "Show every host that sends heartbeats to Kafka: one row each, stale hosts first.");
	fleet->add_option("--brokers", fleet_options.reader.brokers,
			  "Kafka bootstrap servers, HOST:PORT[,...]")
		->required();
	fleet->add_option("--topic", fleet_options.reader.topic,
			  "The heartbeat topic (smithd's heartbeat_topic)")
		->capture_default_str();
	CLI::Option *fleet_json =
		fleet->add_flag("--json", fleet_options.json, "Print the rows as one JSON array");
	fleet->add_flag("--watch", fleet_options.watch,
			"Redraw the view every --interval seconds until interrupted (SIGINT)")
		->excludes(fleet_json);
	fleet->add_option("--interval", fleet_options.interval_seconds, "Seconds between redraws of --watch")
		->capture_default_str()
		->check(CLI::Range(0.1, 86400.0));
	fleet->add_option("--timeout", timeout_seconds,
			  "Seconds the brokers may take to answer before smithctl gives up")
		->capture_default_str()
		->check(CLI::Range(0.1, 3600.0));

	CLI11_PARSE(app, argc, argv);

	try {
		if (status->parsed())
			return print_status(socket_path, json);
		if (fleet->parsed()) {
			fleet_options.reader.timeout =
				std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
			return fleet_options.watch ? watch_fleet(fleet_options) : print_fleet(fleet_options);
		}
	} catch (const std::exception &e) {
		fmt::print(stderr, "smithctl: {}\n", e.what());
		return 1;
	}
	return 0;
}
