// The Kafka sink: librdkafka producer (idempotent, acks=all, lz4, linger.ms=20 by default),
// key = host_id, value = the event's JSON, with the on-disk spool behind it.
//
// Delivery, in order and without silent loss:
//   - Events are produced in batches (rd_kafka_produce_batch, every kPumpEvents events and at
//     each flush) and never copied by librdkafka: a batch's keys and values stay in one buffer
//     of the sink's until librdkafka has reported every message in it. Durable: that buffer is
//     the spool journal's own, just written, so nothing is read back from disk unless the
//     journal holds older events still to send.
//   - librdkafka's own queue is the bounded in-memory queue. Messages never
//     time out by default (message.timeout.ms=0): those queued when the broker
//     goes away wait there and librdkafka retries them in order. Delivery reports are served
//     with each batch, so the bound counts what waits for the broker, not reports not collected.
//   - When every broker is down, when that queue is full, or when the spool
//     already holds events, new events go to the spool, so everything in the
//     spool is newer than everything queued. While the brokers are down one
//     spooled event at a time probes for their return.
//   - Once the queue has room, spooled events are produced oldest first and
//     committed in the spool as their deliveries succeed (once per batch, since
//     a commit syncs the disk); new events keep going
//     to the spool until it is drained, which keeps the order.
//   - close() (SIGTERM) gives the queue a few seconds to deliver, then moves
//     what is left to the spool. A restart replays the spool first.
//   - Only the spool's size bound drops events, and those are counted.
//   - An event the broker refuses for good (larger than the topic's max.message.bytes, topic not
//     authorised) goes to <spool dir>/dead-letter.jsonl, counted, and delivery goes on behind it.
//   - A fatal producer error (idempotence fenced) rebuilds the producer: what it held goes back
//     to the spool; if no producer can be made, flush() throws SinkError and smithd exits 1.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sink/sink.h"
#include "sink/spool.h"

// librdkafka's configuration handle, without its header here.
typedef struct rd_kafka_conf_s rd_kafka_conf_t;

namespace smith::sink {

struct KafkaOptions {
	std::string topic = "smith-events";
	std::string heartbeat_topic = "smith-heartbeat";
	// librdkafka properties (bootstrap.servers, TLS, SASL, batching...), applied
	// over the defaults; every one is checked by librdkafka at construction.
	std::map<std::string, std::string> properties;
	SpoolOptions spool;
	std::chrono::milliseconds close_timeout{5000}; // delivery time given at close() before spooling
	// Every event into the spool's journal (written at each persist(), before the kernel's ring
	// gives up the records) before librdkafka has it, and committed once delivered: kill -9 loses
	// nothing the kernel produced while smithd ran. Else events wait in memory and
	// reach the spool only when the queue is full, the broker away, or at close.
	bool durable = true;
};

class KafkaSink final : public Sink {
public:
	// Throws SinkError naming the property when librdkafka refuses one, or when
	// bootstrap.servers is missing. An unreachable broker is not an error here:
	// events are queued and spooled, and status() shows the broker state.
	explicit KafkaSink(KafkaOptions options);
	~KafkaSink() override;

	bool write(std::string_view json_line, std::string_view key) override;
	void flush() override;
	// durability: disk: the journal is written (and its events produced) now.
	void persist() override;
	void reopen() override {}
	void close() override;
	void heartbeat(std::string_view status_json) override;
	control::SinkStatus status() const override;

	// Raises a fatal producer error as librdkafka would (its test API), for tests of the rebuild.
	void inject_fatal_error(const char *reason);

	struct State; // shared with librdkafka's callbacks

private:
	struct Batch;
	void add(Batch &batch, std::string_view key, std::string_view value, uintptr_t tag);
	void produce_batch(Batch &batch);
	size_t queue_room() const;
	void send_spooled();
	void replay_spool();
	void commit_delivered();
	rd_kafka_conf_t *make_conf();		   // throws SinkError naming a property librdkafka refuses
	void make_producer(rd_kafka_conf_t *conf); // takes conf
	void destroy_producer();
	// Every kPumpEvents writes, between the pipeline's flushes: serves delivery reports and
	// produces what waits in the spool (every event, when durable).
	void pump();
	void log_idle_backlog(std::chrono::steady_clock::time_point now);
	void rebuild_producer();

	KafkaOptions options_;
	std::map<std::string, std::string> properties_; // librdkafka's, defaults and options merged
	std::unique_ptr<State> state_;
};

} // namespace smith::sink
