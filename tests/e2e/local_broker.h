// A real Apache Kafka broker for one test case, run by packaging/kafka/local-broker.sh on the test's
// own ports and data directory (so tests never share one), wiped before and after.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "smithd_fixture.h"

namespace smith::e2e {

class LocalBroker {
public:
	// Skips the test (skip_test) without root, java or mvn; fails it when the broker does not start.
	LocalBroker(std::string port, std::string controller_port, std::string data)
	    : port_(std::move(port)), controller_port_(std::move(controller_port)), data_(std::move(data))
	{
		require_root();
		if (system("command -v java >/dev/null && command -v mvn >/dev/null") != 0)
			skip_test("java and mvn are needed to run a Kafka broker");
		run("wipe");
		start();
	}
	~LocalBroker() { run("wipe"); }
	LocalBroker(const LocalBroker &) = delete;
	LocalBroker &operator=(const LocalBroker &) = delete;

	std::string brokers() const { return "127.0.0.1:" + port_; }
	void start() { check(run("start")); }
	void stop() { check(run("stop")); }
	// local-broker.sh `verb` against this broker.
	CommandResult run(const std::string &verb) const
	{
		setenv("SMITH_KAFKA_PORT", port_.c_str(), 1);
		setenv("SMITH_KAFKA_CONTROLLER_PORT", controller_port_.c_str(), 1);
		setenv("SMITH_KAFKA_DATA", data_.c_str(), 1);
		return run_command({"/bin/bash", SMITH_LOCAL_BROKER, verb}, std::chrono::seconds(180));
	}

private:
	static void check(const CommandResult &r)
	{
		INFO(r.out << r.err);
		REQUIRE(r.exit_code == 0);
	}

	std::string port_, controller_port_, data_;
};

} // namespace smith::e2e
