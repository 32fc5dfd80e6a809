// smith_kafka_consume: reads a topic and prints one line per message to stdout, for tests
// that check what smithd delivered.
//
//   smith_kafka_consume --brokers 127.0.0.1:19092 --topic T [--group G | --no-group]
//                       [--from-beginning] [--idle-ms 3000] [--max N] [--with-key]
//
// Each line is the message value as is (smith's values are single-line JSON); with --with-key
// it is "key<TAB>value". It stops after --max messages, or once no message has arrived for
// --idle-ms after it was assigned its partitions. A topic that still does not exist after
// --idle-ms reads as empty.
//
// Without --group (or with --no-group) it assigns every partition itself and commits
// nothing. With --group G it joins group G; offsets of printed messages are committed on
// exit, so the next run with the same group continues where this one stopped.
//
// Exit 0 when it stopped as above, 1 on any error (unreachable broker, no assignment within
// --ready-timeout-ms, a consumer error other than end of partition), with the reason on stderr.
#include "rdkafka_util.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace smith::kafka_tools;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
	std::string brokers = "127.0.0.1:19092";
	std::string topic;
	std::string group; // empty: no group, assign all partitions
	bool from_beginning = false;
	int idle_ms = 3000;
	long max = 0; // 0: no limit
	bool with_key = false;
	int ready_timeout_ms = 30000;
};

struct GroupState {
	bool assigned = false; // the first rebalance gave us our (possibly empty) assignment
	std::string fatal;     // text of a fatal client error
};

void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
		  void *opaque)
{
	auto *state = static_cast<GroupState *>(opaque);
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_assign(rk, parts);
		state->assigned = true;
	} else {
		rd_kafka_assign(rk, nullptr);
	}
}

void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	auto *state = static_cast<GroupState *>(opaque);
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char fatal[512];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		state->fatal = err_text(orig) + ": " + fatal;
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
		   err == RD_KAFKA_RESP_ERR__RESOLVE) {
		// Retried by librdkafka; an unreachable broker ends in the ready timeout.
		std::fprintf(stderr, "smith_kafka_consume: %s: %s\n",
			     rd_kafka_err2name(rd_kafka_resp_err_t(err)), reason);
	}
}

// Waits for the topic's partitions in metadata. Empty result: the topic does not exist
// (yet) after `wait_ms`. A broker that never answers is a ToolError.
std::vector<int32_t> topic_partitions(rd_kafka_t *rk, const std::string &topic, int wait_ms,
				      int ready_timeout_ms)
{
	auto start = Clock::now();
	rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (;;) {
		const rd_kafka_metadata_t *raw = nullptr;
		last = rd_kafka_metadata(rk, 1, nullptr, &raw, 5000);
		Metadata md(raw);
		if (last == RD_KAFKA_RESP_ERR_NO_ERROR) {
			for (int i = 0; i < md->topic_cnt; i++) {
				const auto &t = md->topics[i];
				if (topic != t.topic || t.err)
					continue;
				std::vector<int32_t> ids;
				for (int p = 0; p < t.partition_cnt; p++)
					ids.push_back(t.partitions[p].id);
				return ids;
			}
			if (ms_since(start) >= wait_ms)
				return {};
		} else if (ms_since(start) >= ready_timeout_ms) {
			throw ToolError("metadata from " + std::string(rd_kafka_name(rk)) + ": " +
					err_text(last));
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(200));
	}
}

int run(int argc, char **argv)
{
	Options o;
	bool no_group = false;
	CLI::App app{"Print the messages of a Kafka topic, one per line"};
	app.add_option("--brokers", o.brokers, "bootstrap servers")->capture_default_str();
	app.add_option("--topic", o.topic, "topic to read")->required();
	auto *group = app.add_option("--group", o.group, "consumer group (offsets committed on exit)");
	app.add_flag("--no-group", no_group, "assign all partitions, commit nothing (the default)")
		->excludes(group);
	app.add_flag("--from-beginning", o.from_beginning, "start at the earliest offset, not the end");
	app.add_option("--idle-ms", o.idle_ms, "stop after this long without a message")
		->capture_default_str();
	app.add_option("--max", o.max, "stop after this many messages (0: no limit)")->capture_default_str();
	app.add_flag("--with-key", o.with_key, "print key<TAB>value");
	app.add_option("--ready-timeout-ms", o.ready_timeout_ms,
		       "time allowed to reach the broker and be assigned")
		->capture_default_str();
	std::vector<std::string> properties;
	app.add_option("-X,--property", properties, "extra librdkafka property NAME=VALUE (repeatable)");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}

	GroupState state;
	KafkaConf conf(rd_kafka_conf_new());
	conf_set(conf.get(), "bootstrap.servers", o.brokers);
	conf_set(conf.get(), "client.id", "smith_kafka_consume");
	conf_set(conf.get(), "auto.offset.reset", o.from_beginning ? "earliest" : "latest");
	conf_set(conf.get(), "enable.partition.eof", "false");
	if (!o.group.empty()) {
		conf_set(conf.get(), "group.id", o.group);
		conf_set(conf.get(), "enable.auto.commit", "true");
		conf_set(conf.get(), "enable.auto.offset.store", "false"); // only printed messages count
		rd_kafka_conf_set_rebalance_cb(conf.get(), on_rebalance);
	} else {
		// librdkafka's assign() wants a group.id even though it joins no group; nothing is
		// committed under this one.
		conf_set(conf.get(), "group.id", "smith_kafka_consume.nogroup." + std::to_string(getpid()));
		conf_set(conf.get(), "enable.auto.commit", "false");
	}
	rd_kafka_conf_set_opaque(conf.get(), &state);
	rd_kafka_conf_set_error_cb(conf.get(), on_error);
	for (const auto &p : properties)
		conf_set_pair(conf.get(), p);
	KafkaHandle rk = kafka_new(RD_KAFKA_CONSUMER, std::move(conf));
	rd_kafka_poll_set_consumer(rk.get());

	// Both modes wait up to idle-ms for the topic: a group subscribed to a missing topic
	// is never assigned anything, and would only end in the ready timeout.
	std::vector<int32_t> partitions = topic_partitions(rk.get(), o.topic, o.idle_ms, o.ready_timeout_ms);
	if (partitions.empty()) {
		std::fprintf(stderr, "smith_kafka_consume: topic %s does not exist: no messages\n",
			     o.topic.c_str());
		rd_kafka_consumer_close(rk.get());
		return 0;
	}
	if (o.group.empty()) {
		PartitionList parts(rd_kafka_topic_partition_list_new(int(partitions.size())));
		for (int32_t id : partitions)
			rd_kafka_topic_partition_list_add(parts.get(), o.topic.c_str(), id)->offset =
				o.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
		if (auto err = rd_kafka_assign(rk.get(), parts.get()))
			throw ToolError("assign: " + err_text(err));
		state.assigned = true;
	} else {
		PartitionList topics(rd_kafka_topic_partition_list_new(1));
		rd_kafka_topic_partition_list_add(topics.get(), o.topic.c_str(), RD_KAFKA_PARTITION_UA);
		if (auto err = rd_kafka_subscribe(rk.get(), topics.get()))
			throw ToolError("subscribe: " + err_text(err));
	}

	std::string error;
	long printed = 0;
	auto start = Clock::now();
	auto last = start; // the idle clock: last message, or the moment of assignment
	bool was_assigned = state.assigned;
	while (o.max == 0 || printed < o.max) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk.get(), 100);
		if (!state.fatal.empty()) {
			error = "fatal: " + state.fatal;
			if (msg)
				rd_kafka_message_destroy(msg);
			break;
		}
		if (state.assigned && !was_assigned) {
			was_assigned = true;
			last = Clock::now();
		}
		if (!msg) {
			if (!state.assigned && ms_since(start) >= o.ready_timeout_ms) {
				error = "no partition assignment for group " + o.group + " within " +
					std::to_string(o.ready_timeout_ms) + " ms";
				break;
			}
			if (state.assigned && ms_since(last) >= o.idle_ms)
				break;
			continue;
		}
		if (msg->err) {
			bool benign = msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
				      msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
			if (!benign) {
				error = "consume: " + err_text(msg->err);
				rd_kafka_message_destroy(msg);
				break;
			}
			rd_kafka_message_destroy(msg);
			continue;
		}
		if (o.with_key) {
			if (msg->key)
				std::fwrite(msg->key, 1, msg->key_len, stdout);
			std::fputc('\t', stdout);
		}
		if (msg->payload)
			std::fwrite(msg->payload, 1, msg->len, stdout);
		std::fputc('\n', stdout);
		if (!o.group.empty())
			rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset); // commits offset + 1
		rd_kafka_message_destroy(msg);
		printed++;
		last = Clock::now();
	}

	if (std::fflush(stdout) != 0 || std::ferror(stdout))
		error = "writing to stdout failed";
	if (!o.group.empty()) {
		if (auto err = rd_kafka_commit(rk.get(), nullptr, 0);
		    err && err != RD_KAFKA_RESP_ERR__NO_OFFSET && error.empty())
			error = "commit: " + err_text(err);
	}
	rd_kafka_consumer_close(rk.get());
	std::fprintf(stderr, "smith_kafka_consume: %ld messages from %s in %.0f ms\n", printed,
		     o.topic.c_str(), ms_since(start));
	if (!error.empty())
		throw ToolError(error);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "smith_kafka_consume: %s\n", e.what());
		return 1;
	}
}
