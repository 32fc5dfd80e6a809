#include "sink/kafka_sink.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "json/json_writer.h"
#include "sink/spool_segment.h"
#include "util/fd.h"

namespace smith::sink {
namespace {

// Opaque tags carried by messages to their delivery reports.
constexpr uintptr_t kLive = 0;		      // produced straight from write()
constexpr uintptr_t kHeartbeat = UINTPTR_MAX; // a heartbeat: best effort, never spooled
// Anything else is a spooled record: its spool offset + 1.

// queue.buffering.max.messages: the in-memory bound. Small enough that a crash
// loses little of what waits for the broker; past it, events wait on disk.
constexpr size_t kQueueMessages = 20000;

// write() serves delivery reports and produces what the spool holds every this many events, not
// only at the pipeline's flush (every 100 ms under load): at 200 000 events/s a 100 ms wait
// would fill the queue's bound with messages already delivered.
constexpr size_t kPumpEvents = 1000;

// Spooled events read back from disk go to librdkafka in batches of at most this many, so that
// no single buffer holds the whole queue's worth.
constexpr size_t kReplayBatch = 2000;
constexpr size_t kSpareBytes = 4u << 20; // largest buffer kept for reuse

const std::map<std::string, std::string> &default_properties()
{
	static const std::map<std::string, std::string> d = {
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"compression.type", "lz4"},
		{"message.timeout.ms", "0"}, // never give up on a message: the broker may be away for long
		{"queue.buffering.max.messages", std::to_string(kQueueMessages)},
		{"queue.buffering.max.kbytes", "262144"},
		// Batches of up to batch.size (1 MB) rather than what 5 ms (librdkafka's default) holds:
		// fewer produce requests for the broker, which on a small host shares smithd's cores.
		{"linger.ms", "20"},
		{"client.id", "smithd"},
	};
	return d;
}

} // namespace

// Events for one rd_kafka_produce_batch(): keys and values in `bytes`, which librdkafka reads in
// place (no copy) until each message's delivery report.
struct KafkaSink::Batch {
	struct Entry {
		size_t key_off, key_len, value_off, value_len;
		uintptr_t tag; // kLive, or spool offset + 1
	};
	std::string bytes;
	std::vector<Entry> entries;
	bool empty() const { return entries.empty(); }
};

struct KafkaSink::State {
	rd_kafka_t *rk = nullptr;
	rd_kafka_topic_t *rkt = nullptr; // the events' topic, looked up once per producer
	size_t unpumped = 0;		 // events written since the last pump()

	Batch live; // memory mode: events written since the last produce, kLive
	// The bytes of produced batches, each kept until librdkafka has reported every message
	// that points into it. Oldest first.
	struct Chunk {
		std::string bytes;
		size_t pending = 0; // messages not yet reported
	};
	std::deque<Chunk> chunks;
	std::vector<std::string> spare;		  // emptied chunk buffers, kept for reuse
	std::vector<rd_kafka_message_t> messages; // produce_batch()'s argument, reused

	// A delivery report for a message in one of `chunks`: frees the chunks nothing points into.
	void release(const void *payload)
	{
		const char *p = static_cast<const char *>(payload);
		for (Chunk &c : chunks)
			if (p >= c.bytes.data() && p < c.bytes.data() + c.bytes.size()) {
				c.pending--;
				break;
			}
		while (!chunks.empty() && chunks.front().pending == 0)
			drop_front_chunk();
	}
	void drop_front_chunk()
	{
		give_spare(std::move(chunks.front().bytes));
		chunks.pop_front();
	}
	void give_spare(std::string &&b)
	{
		// Only buffers of a usual batch's size are kept: a large one would stay in RSS for good.
		if (spare.size() < 4 && b.capacity() > 0 && b.capacity() <= kSpareBytes) {
			b.clear();
			spare.push_back(std::move(b));
		}
	}
	std::string take_spare()
	{
		if (spare.empty())
			return {};
		std::string b = std::move(spare.back());
		spare.pop_back();
		return b;
	}
	std::unique_ptr<Spool> spool;
	std::string brokers;		     // bootstrap.servers, for status
	size_t queue_limit = kQueueMessages; // the queue's message bound, as configured
	bool backlog = false;	    // the spool holds events not yet produced: new events go there too
	bool replay_failed = false; // a spooled record's delivery failed: rewind once in-flight ones settle
	uint64_t replay_in_flight = 0; // spooled records produced and not yet reported
	uint64_t delivered = 0;	       // events the broker acknowledged
	uint64_t failed = 0;	       // delivery failures (the event went to the spool)
	uint64_t spooled = 0;	       // events written to the spool
	uint64_t replayed = 0;	       // spooled events delivered
	uint64_t heartbeats = 0;       // heartbeats delivered
	bool connected = false;	       // a broker answered lately
	bool brokers_down = false;     // librdkafka reported every broker down; cleared by a delivery
	uint64_t commit_upto = 0; // spool offset + 1 of the last delivered spooled event, not yet committed
	std::string last_error;
	bool durable = true;				   // KafkaOptions::durable
	std::chrono::steady_clock::time_point last_sync{}; // the spool's last fdatasync and commit
	// Since when the spool has held uncommitted records with nothing in flight (zero: it has not).
	std::chrono::steady_clock::time_point idle_backlog_since{};
	std::chrono::steady_clock::time_point idle_backlog_logged{};
	bool fatal = false;		// librdkafka raised a fatal error: the producer must be rebuilt
	uint64_t producer_rebuilds = 0; // producers rebuilt after a fatal error
	std::string topic;
	std::string dead_letter_path; // <spool dir>/dead-letter.jsonl
	util::UniqueFd dead_letter_fd;
	uint64_t dead_lettered = 0; // events the broker refused for good, kept in dead_letter_path

	// Appends the refused event to the dead-letter file, with why, as one JSON line:
	// {"error":..., "code":..., "topic":..., "key":..., "event":<the event>}.
	void dead_letter(rd_kafka_resp_err_t err, std::string_view key, std::string_view value)
	{
		dead_lettered++;
		if (dead_letter_fd.get() < 0)
			dead_letter_fd.reset(::open(dead_letter_path.c_str(),
						    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
		std::string line;
		{
			json::JsonWriter w(line);
			w.begin_object();
			w.field("error", rd_kafka_err2str(err));
			w.field("code", int64_t{err});
			w.field("topic", std::string_view(topic));
			w.field("key", key);
			w.key("event");
			w.raw(value);
			w.end_object();
		}
		line.push_back('\n');
		const bool kept = dead_letter_fd.get() >= 0 &&
				  util::write_full(dead_letter_fd.get(), line.data(), line.size()).ok();
		if (dead_lettered <= 10 || dead_lettered % 1000 == 0)
			spdlog::error(
				"kafka: the broker refuses an event for good ({}); {} in {} ({} so far)",
				rd_kafka_err2str(err), kept ? "kept" : "could not be kept", dead_letter_path,
				dead_lettered);
	}

	bool spool_append(std::string_view key, std::string_view value)
	{
		if (!spool->append(key, value))
			return false; // counted by the spool
		spooled++;
		return true;
	}
};

namespace {

// Errors no retry can cure: the message itself, or the topic, is refused.
bool permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION: return true;
	default: return false;
	}
}

void on_delivery(rd_kafka_t *, const rd_kafka_message_t *m, void *opaque)
{
	auto *st = static_cast<KafkaSink::State *>(opaque);
	auto tag = reinterpret_cast<uintptr_t>(m->_private);
	if (tag == kHeartbeat) { // copied by librdkafka
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			st->heartbeats++;
			st->connected = true;
			st->brokers_down = false;
		}
		return;
	}
	// The payload lives in one of the sink's chunks: freed once this report is handled.
	struct Release {
		KafkaSink::State *st;
		const void *payload;
		~Release() { st->release(payload); }
	} release{st, m->payload};
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		st->connected = true;
		st->brokers_down = false;
		st->delivered++;
		if (tag != kLive) {
			st->replay_in_flight--;
			st->replayed++;
			if (!st->replay_failed)
				st->commit_upto = tag; // committed once per batch: a commit syncs the disk
		}
		return;
	}
	std::string_view key(static_cast<const char *>(m->key), m->key_len);
	std::string_view value(static_cast<const char *>(m->payload), m->len);
	if (permanent(m->err)) {
		// Out of the way, so that what follows is delivered.
		st->dead_letter(m->err, key, value);
		if (tag != kLive) {
			st->replay_in_flight--;
			if (!st->replay_failed)
				st->commit_upto = tag;
		}
		return;
	}
	st->failed++;
	st->last_error = rd_kafka_err2str(m->err);
	if (tag != kLive) {
		// Still in the spool, uncommitted: read again after a rewind.
		st->replay_in_flight--;
		st->replay_failed = true;
		st->backlog = true;
		return;
	}
	st->backlog = true;
	st->spool_append(key, value);
}

void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	auto *st = static_cast<KafkaSink::State *>(opaque);
	st->last_error = reason;
	// One connection failing (a bootstrap connection closed, a broker of
	// several restarting) is not an outage; every broker down is.
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		st->connected = false;
		// From now on new events go to disk, not to memory, until a delivery succeeds.
		st->brokers_down = true;
		st->backlog = true;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		st->last_error = buf;
		st->fatal = true;
		spdlog::error("kafka: fatal producer error: {}", buf);
		return;
	}
	spdlog::warn("kafka: {}", reason);
}

void on_log(const rd_kafka_t *, int level, const char *facility, const char *message)
{
	if (level <= 3)
		spdlog::error("librdkafka {}: {}", facility, message);
	else if (level <= 4)
		spdlog::warn("librdkafka {}: {}", facility, message);
	else
		spdlog::debug("librdkafka {}: {}", facility, message);
}

} // namespace

KafkaSink::KafkaSink(KafkaOptions options) : options_(std::move(options)), state_(std::make_unique<State>())
{
	properties_ = default_properties();
	for (const auto &[k, v] : options_.properties)
		properties_[k] = v;
	if (properties_["bootstrap.servers"].empty())
		throw SinkError("the kafka sink needs brokers: set kafka.bootstrap.servers in the config or "
				"--brokers");
	// Every event's key is the host id, so a host's events go to one partition, in order, and their
	// delivery reports come in order: the spool commits up to the last one reported. Only the
	// random partitioner ignores the key.
	if (properties_.count("partitioner") && properties_["partitioner"] == "random")
		throw SinkError(
			"kafka property 'partitioner' = 'random': smith keys each event by host_id so "
			"that a host's events stay in order on one partition, which the spool's commit "
			"relies on; use a key-based partitioner (the default, consistent_random)");
	state_->brokers = properties_["bootstrap.servers"];
	state_->topic = options_.topic;
	state_->durable = options_.durable;
	state_->dead_letter_path = options_.spool.dir + "/dead-letter.jsonl";
	try {
		state_->queue_limit = std::stoul(properties_["queue.buffering.max.messages"]);
	} catch (const std::exception &) {
	}
	rd_kafka_conf_t *conf = make_conf(); // every property checked before anything touches the spool

	// The spool first: a restart replays what the last run left.
	state_->spool = std::make_unique<Spool>(options_.spool);
	state_->backlog = !state_->spool->empty();
	if (state_->backlog)
		spdlog::info("kafka: {} spooled events from an earlier run will be sent first",
			     state_->spool->records());

	make_producer(conf);
	spdlog::info("kafka: producing to topic {} on {}", options_.topic, state_->brokers);
}

rd_kafka_conf_t *KafkaSink::make_conf()
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	for (const auto &[k, v] : properties_) {
		if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
			rd_kafka_conf_destroy(conf);
			throw SinkError(fmt::format("kafka property '{}' = '{}': {}", k, v, err));
		}
	}
	rd_kafka_conf_set_opaque(conf, state_.get());
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
	return conf;
}

void KafkaSink::make_producer(rd_kafka_conf_t *conf)
{
	char err[512];
	state_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!state_->rk) { // conf is freed by rd_kafka_new only on success
		rd_kafka_conf_destroy(conf);
		throw SinkError(fmt::format("cannot create the kafka producer: {}", err));
	}
	state_->rkt = rd_kafka_topic_new(state_->rk, options_.topic.c_str(), nullptr);
	if (!state_->rkt) {
		const char *why = rd_kafka_err2str(rd_kafka_last_error());
		destroy_producer();
		throw SinkError(fmt::format("cannot use kafka topic {}: {}", options_.topic, why));
	}
}

void KafkaSink::destroy_producer()
{
	if (state_->rkt)
		rd_kafka_topic_destroy(state_->rkt);
	state_->rkt = nullptr;
	rd_kafka_destroy(state_->rk);
	state_->rk = nullptr;
	state_->chunks.clear(); // librdkafka holds no message now
}

// A fatal error (the idempotent producer fenced or out of sequence) ends a producer for good. What
// it still holds is purged into the spool (live events) or left there (spooled ones), and a new
// producer, with a fresh idempotent sequence, takes over. If none can be made, the SinkError ends
// smithd with exit 1, for systemd to restart it.
void KafkaSink::rebuild_producer()
{
	State &st = *state_;
	spdlog::error("kafka: rebuilding the producer after a fatal error: {}", st.last_error);
	rd_kafka_purge(st.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(st.rk, 1000); // serves the purged messages' delivery reports
	commit_delivered();
	destroy_producer();
	st.fatal = false;
	st.replay_in_flight = 0;
	st.replay_failed = true; // every spooled record not committed is read again
	st.backlog = true;
	make_producer(make_conf());
	st.producer_rebuilds++;
}

void KafkaSink::inject_fatal_error(const char *reason)
{
	rd_kafka_test_fatal_error(state_->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
}

KafkaSink::~KafkaSink()
{
	close();
}

void KafkaSink::produce_batch(Batch &batch)
{
	State &st = *state_;
	if (batch.empty())
		return;
	// The bytes become a chunk first: delivery reports served during this call find it.
	st.chunks.push_back({std::move(batch.bytes), 0});
	State::Chunk &chunk = st.chunks.back();
	batch.bytes = st.take_spare();
	const char *base = chunk.bytes.data();
	auto fill = [&](size_t from) {
		st.messages.resize(batch.entries.size() - from);
		for (size_t i = from; i < batch.entries.size(); i++) {
			const Batch::Entry &e = batch.entries[i];
			rd_kafka_message_t &m = st.messages[i - from];
			m = rd_kafka_message_t{};
			m.payload = const_cast<char *>(base + e.value_off);
			m.len = e.value_len;
			m.key = const_cast<char *>(base + e.key_off);
			m.key_len = e.key_len;
			m._private = reinterpret_cast<void *>(e.tag);
		}
	};
	// One call for the batch: librdkafka takes the topic lock and reads the clock once, and the
	// payloads are not copied (no RD_KAFKA_MSG_F_COPY); the partitioner runs on each key.
	// Every message taken is counted before any delivery report can be served.
	auto produce = [&](size_t from) {
		fill(from);
		rd_kafka_produce_batch(st.rkt, RD_KAFKA_PARTITION_UA, 0, st.messages.data(),
				       static_cast<int>(st.messages.size()));
		for (size_t i = from; i < batch.entries.size(); i++)
			if (st.messages[i - from].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				chunk.pending++;
				if (batch.entries[i].tag != kLive)
					st.replay_in_flight++; // its delivery report will come
			}
	};
	produce(0);
	size_t from = 0;
	bool retried = false;
	for (size_t i = 0; i < batch.entries.size(); i++) {
		const Batch::Entry &e = batch.entries[i];
		const rd_kafka_resp_err_t err = st.messages[i - from].err;
		const std::string_view key(base + e.key_off, e.key_len);
		const std::string_view value(base + e.value_off, e.value_len);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		if (permanent(err)) { // refused before it left: larger than message.max.bytes
			st.dead_letter(err, key, value);
			if (e.tag != kLive && st.replay_in_flight == 0 && !st.replay_failed)
				st.commit_upto = e.tag;
			continue;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			st.last_error = rd_kafka_err2str(err);
			st.failed++;
		}
		if (e.tag != kLive) {
			st.replay_failed = true; // read again after a rewind
			continue;
		}
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !retried && !st.backlog) {
			// The queue's bound counts messages until their delivery reports are served here, so
			// a full queue may only mean reports not collected yet: collect them, and produce
			// the rest of the batch once more (a full queue refuses every message after the
			// first it refuses, so the order holds).
			retried = true;
			chunk.pending++; // the chunk stays while reports are served
			rd_kafka_poll(st.rk, 0);
			chunk.pending--;
			if (!st.backlog) {
				produce(i);
				from = i;
				i--; // look at this entry again
				continue;
			}
		}
		// The broker is away or slower than input: this event and those after it wait in
		// the spool.
		st.backlog = true;
		st.spool_append(key, value);
	}
	batch.entries.clear();
	if (chunk.pending == 0) { // nothing points into it
		st.give_spare(std::move(chunk.bytes));
		st.chunks.pop_back();
	}
}

void KafkaSink::add(Batch &batch, std::string_view key, std::string_view value, uintptr_t tag)
{
	Batch::Entry e;
	e.key_off = batch.bytes.size();
	e.key_len = key.size();
	batch.bytes.append(key);
	e.value_off = batch.bytes.size();
	e.value_len = value.size();
	batch.bytes.append(value);
	batch.bytes.push_back('\n'); // a payload never ends its chunk, even when empty
	e.tag = tag;
	batch.entries.push_back(e);
}

bool KafkaSink::write(std::string_view json_line, std::string_view key)
{
	if (!state_->rk)
		return false;
	State &st = *state_;
	std::string_view value = json_line;
	if (!value.empty() && value.back() == '\n')
		value.remove_suffix(1);
	bool kept = true;
	if (st.durable) { // journaled; produced from the journal's buffer by pump() or flush()
		st.backlog = true;
		kept = st.spool_append(key, value);
	} else {
		if (st.backlog)
			produce_batch(st.live); // older than what the spool gets from now on
		if (!st.backlog) {
			add(st.live, key, value, kLive);
		} else {
			// The queue is full (the broker is away or slower than input), or older
			// events wait in the spool: this one goes behind them.
			kept = st.spool_append(key, value);
		}
	}
	if (++st.unpumped >= kPumpEvents)
		pump();
	return kept;
}

size_t KafkaSink::queue_room() const
{
	const size_t queued = static_cast<size_t>(rd_kafka_outq_len(state_->rk));
	return queued >= state_->queue_limit ? 0 : state_->queue_limit - queued;
}

void KafkaSink::send_spooled()
{
	State &st = *state_;
	// Events appended since the last call are written to the spool, and produced from that
	// buffer when nothing older waits on disk: no read back, no copy.
	const size_t max =
		st.backlog && !st.replay_failed && !st.brokers_down && !st.fatal ? queue_room() : 0;
	std::string frames = st.take_spare();
	if (st.spool->write_out_and_take(max, frames) > 0) {
		Batch b;
		b.bytes = std::move(frames);
		for (size_t pos = 0; pos < b.bytes.size();) {
			uint64_t offset = 0;
			std::string_view key, value;
			pos += spool::decode_frame(b.bytes.data() + pos, offset, key, value);
			b.entries.push_back({static_cast<size_t>(key.data() - b.bytes.data()), key.size(),
					     static_cast<size_t>(value.data() - b.bytes.data()), value.size(),
					     static_cast<uintptr_t>(offset + 1)});
		}
		produce_batch(b);
	} else {
		st.give_spare(std::move(frames));
	}
	replay_spool();
}

void KafkaSink::pump()
{
	State &st = *state_;
	st.unpumped = 0;
	produce_batch(st.live);
	rd_kafka_poll(st.rk, 0); // delivery reports
	if (st.fatal)
		return; // flush() rebuilds the producer
	if (st.backlog)
		send_spooled();
}

void KafkaSink::replay_spool()
{
	State &st = *state_;
	if (!st.backlog)
		return;
	if (st.replay_failed) {
		if (st.replay_in_flight > 0)
			return;
		st.spool->rewind();
		st.replay_failed = false;
	}
	size_t room = queue_room();
	if (room == 0)
		return; // let the queue drain first
	if (st.brokers_down) {
		// One spooled event at a time probes for the broker's return; the rest
		// stays on disk rather than piling up in memory.
		if (st.replay_in_flight > 0)
			return;
		room = 1;
	}
	size_t n = 0;
	while (n < room && !st.replay_failed) {
		Batch b;
		b.bytes = st.take_spare();
		const size_t want = std::min(room - n, kReplayBatch);
		const size_t got = st.spool->read(
			want, [&](const SpoolRecord &r) { add(b, r.key, r.value, r.offset + 1); });
		if (got > 0)
			produce_batch(b);
		else
			st.give_spare(std::move(b.bytes));
		n += got;
		if (got < want)
			break; // the end of the spool, for now
	}
	// Every spooled event is produced: new ones go straight out. Not while the spool still holds
	// appends it could not write (a full disk): read() does not see them, and they go first.
	if (n < room && !st.replay_failed && !st.durable && st.spool->buffered_records() == 0)
		st.backlog = false;
}

void KafkaSink::persist()
{
	State &st = *state_;
	if (!st.rk || !st.durable || st.spool->buffered_records() == 0)
		return;
	pump();
	st.spool->write_out(); // when pump() produced nothing (a fatal error waits for flush())
}

void KafkaSink::commit_delivered()
{
	State &st = *state_;
	if (st.commit_upto > 0) // deliveries before any failure: they come in order
		st.spool->commit(st.commit_upto - 1);
	st.commit_upto = 0;
}

void KafkaSink::flush()
{
	if (!state_->rk)
		return;
	State &st = *state_;
	st.unpumped = 0;
	produce_batch(st.live);
	rd_kafka_poll(st.rk, 0); // delivery reports
	if (st.fatal)
		rebuild_producer();
	if (!st.durable) {
		commit_delivered();
		send_spooled();
		st.spool->flush();
		return;
	}
	// Durable: the journal is written (one write per batch) before anything of it is produced,
	// so a kill -9 loses nothing; fdatasync and the commit of what was delivered (a write of the
	// state file) happen once a second, so power loss loses at most that second, and a restart
	// resends at most what was in flight or delivered in the last second.
	send_spooled();
	const auto now = std::chrono::steady_clock::now();
	if (now - st.last_sync >= std::chrono::seconds(1)) {
		commit_delivered();
		st.spool->flush();
		st.last_sync = now;
		log_idle_backlog(now);
	}
}

void KafkaSink::log_idle_backlog(std::chrono::steady_clock::time_point now)
{
	// Records that stay in the spool while nothing is in flight and the broker answers are
	// neither delivered nor on their way: say what holds them, once every 10 s.
	State &st = *state_;
	if (st.spool->records() == 0 || rd_kafka_outq_len(st.rk) > 0 || st.brokers_down) {
		st.idle_backlog_since = {};
		return;
	}
	if (st.idle_backlog_since == std::chrono::steady_clock::time_point{})
		st.idle_backlog_since = now;
	if (now - st.idle_backlog_since < std::chrono::seconds(5) ||
	    now - st.idle_backlog_logged < std::chrono::seconds(10))
		return;
	st.idle_backlog_logged = now;
	spdlog::warn(
		"kafka: {} spooled records wait with nothing in flight (backlog {}, replay_failed {}, "
		"replay_in_flight {}, commit_upto {}, delivered {}, spooled {}, replayed {}, buffered {})",
		st.spool->records(), st.backlog, st.replay_failed, st.replay_in_flight, st.commit_upto,
		st.delivered, st.spooled, st.replayed, st.spool->buffered_records());
}

void KafkaSink::heartbeat(std::string_view status_json)
{
	if (!state_->rk)
		return;
	rd_kafka_producev(state_->rk, RD_KAFKA_V_TOPIC(options_.heartbeat_topic.c_str()),
			  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			  RD_KAFKA_V_VALUE(const_cast<char *>(status_json.data()), status_json.size()),
			  RD_KAFKA_V_OPAQUE(reinterpret_cast<void *>(kHeartbeat)), RD_KAFKA_V_END);
}

void KafkaSink::close()
{
	State &st = *state_;
	if (!st.rk)
		return;
	flush();
	// Give the broker a moment for what is queued; what is left goes to the spool.
	rd_kafka_flush(st.rk, static_cast<int>(options_.close_timeout.count()));
	if (rd_kafka_outq_len(st.rk) > 0) {
		spdlog::warn("kafka: {} events not delivered within {} ms; moving them to the spool",
			     rd_kafka_outq_len(st.rk), options_.close_timeout.count());
		rd_kafka_purge(st.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(st.rk, 1000); // serves the purged messages' delivery reports
	}
	commit_delivered();
	st.spool->flush();
	destroy_producer();
	spdlog::info("kafka: closed; {} delivered, {} in the spool, {} dropped by the spool's size bound, {} "
		     "damaged "
		     "spool records skipped",
		     st.delivered, st.spool->records(), st.spool->dropped(), st.spool->corrupt());
}

control::SinkStatus KafkaSink::status() const
{
	const State &st = *state_;
	control::SinkStatus s;
	s.type = "kafka";
	s.target = st.brokers;
	s.connected = st.connected;
	s.last_error = st.last_error;
	s.written = st.delivered;
	s.failed = st.failed;
	s.in_flight = st.rk ? static_cast<uint64_t>(rd_kafka_outq_len(st.rk)) : 0;
	s.spooled = st.spooled;
	s.replayed = st.replayed;
	s.spool_bytes = st.spool->bytes();
	s.spool_records = st.spool->records();
	s.spool_dropped = st.spool->dropped();
	s.spool_corrupt = st.spool->corrupt();
	s.dead_lettered = st.dead_lettered;
	s.producer_rebuilds = st.producer_rebuilds;
	return s;
}

} // namespace smith::sink
