// smith_kafka_produce_check: produces N messages the way smithd's Kafka sink does (idempotent
// producer, acks=all, lz4) and waits for every delivery report. Exit 0 only if all N were
// persisted and the broker granted the idempotent producer an id: this is the proof that the
// librdkafka we build against can talk to the broker we test with.
//
//   smith_kafka_produce_check --brokers 127.0.0.1:19092 --topic T --count 1000
//
// Values are single-line JSON: {"check":"<run>","n":<1..N>,"pad":"..."}; the key is "<run>".
// stdout gets one summary line; errors go to stderr.
#include "rdkafka_util.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace smith::kafka_tools;

namespace {

struct Delivery {
	long persisted = 0;	 // delivery reports with no error and status PERSISTED
	long failed = 0;	 // delivery reports with an error
	std::string first_error; // text of the first failed report
	long next_n = 1;	 // the n expected in the next report: reports come in order
	bool out_of_order = false;
	std::string stats; // last statistics JSON (holds the idempotent producer's state)
	std::string fatal; // set by the error callback on a fatal error
};

void on_delivery(rd_kafka_t *, const rd_kafka_message_t *msg, void *opaque)
{
	auto *d = static_cast<Delivery *>(opaque);
	if (msg->err) {
		if (d->failed++ == 0)
			d->first_error = err_text(msg->err);
		return;
	}
	if (rd_kafka_message_status(msg) != RD_KAFKA_MSG_STATUS_PERSISTED) {
		if (d->failed++ == 0)
			d->first_error = "delivered without PERSISTED status";
		return;
	}
	auto n = reinterpret_cast<intptr_t>(msg->_private);
	if (n != d->next_n)
		d->out_of_order = true;
	d->next_n = n + 1;
	d->persisted++;
}

void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	auto *d = static_cast<Delivery *>(opaque);
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char fatal[512];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		d->fatal = err_text(orig) + ": " + fatal;
	} else {
		std::fprintf(stderr, "produce_check: %s: %s\n", rd_kafka_err2name(rd_kafka_resp_err_t(err)),
			     reason);
	}
}

int on_stats(rd_kafka_t *, char *json, size_t len, void *opaque)
{
	static_cast<Delivery *>(opaque)->stats.assign(json, len);
	return 0; // librdkafka frees json
}

// Pulls "key": <scalar> out of the stats JSON's "eos" object: enough for two scalar fields.
std::string eos_field(const std::string &stats, const std::string &key)
{
	auto eos = stats.find("\"eos\"");
	if (eos == std::string::npos)
		return "";
	auto at = stats.find("\"" + key + "\":", eos);
	if (at == std::string::npos)
		return "";
	at = stats.find_first_not_of(" \t", at + key.size() + 3);
	auto end = stats.find_first_of(",}", at);
	std::string value = stats.substr(at, end - at);
	while (!value.empty() && (value.back() == ' ' || value.back() == '"'))
		value.pop_back();
	if (!value.empty() && value.front() == '"')
		value.erase(0, 1);
	return value;
}

int run(int argc, char **argv)
{
	std::string brokers = "127.0.0.1:19092";
	std::string topic;
	long count = 1000;
	int pad = 200;
	int timeout_ms = 60000;

	CLI::App app{"Produce N messages idempotently (acks=all, lz4) and wait for every delivery report"};
	app.add_option("--brokers", brokers, "bootstrap servers")->capture_default_str();
	app.add_option("--topic", topic, "topic (auto-created by the broker)")->required();
	app.add_option("--count", count, "messages to produce")
		->capture_default_str()
		->check(CLI::Range(1L, 100000000L));
	app.add_option("--pad", pad, "bytes of padding per message (compressible)")->capture_default_str();
	app.add_option("--timeout-ms", timeout_ms, "time allowed for all deliveries")->capture_default_str();
	std::vector<std::string> properties;
	app.add_option("-X,--property", properties, "extra librdkafka property NAME=VALUE (repeatable)");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}

	Delivery d;
	KafkaConf conf(rd_kafka_conf_new());
	conf_set(conf.get(), "bootstrap.servers", brokers);
	conf_set(conf.get(), "enable.idempotence", "true");
	conf_set(conf.get(), "acks", "all");
	conf_set(conf.get(), "compression.type", "lz4");
	conf_set(conf.get(), "linger.ms", "5");
	conf_set(conf.get(), "message.timeout.ms", std::to_string(timeout_ms));
	conf_set(conf.get(), "statistics.interval.ms", "100");
	rd_kafka_conf_set_opaque(conf.get(), &d);
	rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
	rd_kafka_conf_set_error_cb(conf.get(), on_error);
	rd_kafka_conf_set_stats_cb(conf.get(), on_stats);
	for (const auto &p : properties)
		conf_set_pair(conf.get(), p);
	KafkaHandle rk = kafka_new(RD_KAFKA_PRODUCER, std::move(conf));

	std::random_device rd;
	char run_id[17];
	std::snprintf(run_id, sizeof(run_id), "%08x%08x", rd(), rd());
	const std::string padding(pad, 'x');

	auto start = std::chrono::steady_clock::now();
	for (long n = 1; n <= count && d.fatal.empty(); n++) {
		std::string value = "{\"check\":\"" + std::string(run_id) + "\",\"n\":" + std::to_string(n) +
				    ",\"pad\":\"" + padding + "\"}";
		for (;;) {
			rd_kafka_resp_err_t err = rd_kafka_producev(
				rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
				RD_KAFKA_V_KEY(run_id, std::strlen(run_id)),
				RD_KAFKA_V_VALUE(value.data(), value.size()),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_OPAQUE(reinterpret_cast<void *>(intptr_t(n))), RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				throw ToolError("produce: " + err_text(err));
			rd_kafka_poll(rk.get(), 50);
		}
		rd_kafka_poll(rk.get(), 0);
	}

	rd_kafka_resp_err_t flush_err = rd_kafka_flush(rk.get(), timeout_ms);
	double elapsed = ms_since(start);
	// One more statistics round so the summary reports the producer id of this run.
	auto stats_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
	d.stats.clear();
	while (d.stats.empty() && std::chrono::steady_clock::now() < stats_deadline)
		rd_kafka_poll(rk.get(), 50);

	std::string idemp_state = eos_field(d.stats, "idemp_state");
	std::string producer_id = eos_field(d.stats, "producer_id");
	int in_queue = rd_kafka_outq_len(rk.get());

	bool ok = true;
	auto fail = [&](const std::string &what) {
		std::fprintf(stderr, "produce_check: %s\n", what.c_str());
		ok = false;
	};
	if (!d.fatal.empty())
		fail("fatal producer error: " + d.fatal);
	if (flush_err)
		fail("flush: " + err_text(flush_err) + ", " + std::to_string(in_queue) +
		     " messages still queued");
	if (d.failed)
		fail(std::to_string(d.failed) + " deliveries failed, first: " + d.first_error);
	if (d.persisted != count)
		fail("persisted " + std::to_string(d.persisted) + " of " + std::to_string(count));
	if (d.out_of_order)
		fail("delivery reports out of order");
	if (idemp_state != "Assigned" || producer_id.empty() || producer_id == "-1")
		fail("idempotent producer not in effect: idemp_state=\"" + idemp_state +
		     "\" producer_id=" + producer_id);

	std::printf(
		"%s: %ld/%ld persisted to %s in %.0f ms (enable.idempotence=true producer_id=%s, acks=all, "
		"compression.type=lz4, librdkafka %s)\n",
		ok ? "ok" : "FAILED", d.persisted, count, topic.c_str(), elapsed, producer_id.c_str(),
		rd_kafka_version_str());
	return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "smith_kafka_produce_check: %s\n", e.what());
		return 1;
	}
}
