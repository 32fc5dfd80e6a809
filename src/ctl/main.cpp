// smithctl: talks to smithd over its control socket (src/control/protocol.h).
//
// Exit status: 0 on success, 1 when the daemon cannot be reached or answers
// with an error, and CLI11's codes for command-line mistakes.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "control/protocol.h"
#include "ctl/control_client.h"
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

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"Query smithd, the smith host security event collector.", "smithctl"};
	app.set_version_flag("--version", std::string("smithctl ") + SMITH_VERSION);
	app.require_subcommand(1);

	bool json = false;
	std::string socket_path = smith::control::kDefaultSocketPath;
	CLI::App *status =
		app.add_subcommand("status", "Show the daemon's state: backend, hooks, counters, sink.");
	status->add_flag("--json", json, "Print the daemon's status as one JSON object");
	status->add_option("--socket", socket_path, "Control socket of smithd")->capture_default_str();

	CLI11_PARSE(app, argc, argv);

	try {
		if (status->parsed())
			return print_status(socket_path, json);
	} catch (const std::exception &e) {
		fmt::print(stderr, "smithctl: {}\n", e.what());
		return 1;
	}
	return 0;
}
