#include "ctl/heartbeat_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace smith::ctl {
namespace {

using Clock = std::chrono::steady_clock;

struct KafkaDeleter {
	void operator()(rd_kafka_t *rk) const { rd_kafka_destroy(rk); }
	void operator()(rd_kafka_conf_t *conf) const { rd_kafka_conf_destroy(conf); }
	void operator()(rd_kafka_topic_conf_t *conf) const { rd_kafka_topic_conf_destroy(conf); }
	void operator()(rd_kafka_topic_t *rkt) const { rd_kafka_topic_destroy(rkt); }
	void operator()(rd_kafka_queue_t *q) const { rd_kafka_queue_destroy(q); }
	void operator()(const rd_kafka_metadata_t *md) const { rd_kafka_metadata_destroy(md); }
	void operator()(rd_kafka_message_t *msg) const { rd_kafka_message_destroy(msg); }
};
using Message = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;

std::string err_text(rd_kafka_resp_err_t err)
{
	return rd_kafka_err2str(err);
}

template <typename Conf> void set(Conf *conf, const char *name, const std::string &value)
{
	char errstr[512];
	rd_kafka_conf_res_t res;
	if constexpr (std::is_same_v<Conf, rd_kafka_conf_t>)
		res = rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr);
	else
		res = rd_kafka_topic_conf_set(conf, name, value.c_str(), errstr, sizeof errstr);
	if (res != RD_KAFKA_CONF_OK)
		throw std::runtime_error(fmt::format("librdkafka: {}={}: {}", name, value, errstr));
}

double seconds(std::chrono::milliseconds ms)
{
	return std::chrono::duration<double>(ms).count();
}

} // namespace

// Destroyed in reverse order of the members: the partitions stop, then the queue, the topic and
// the client go.
struct HeartbeatReader::State {
	mutable std::mutex error_mutex;
	std::string last_error; // from error_cb (librdkafka's threads) or a message error
	std::unique_ptr<rd_kafka_t, KafkaDeleter> rk;
	std::unique_ptr<rd_kafka_topic_t, KafkaDeleter> rkt;
	std::unique_ptr<rd_kafka_queue_t, KafkaDeleter> queue;
	std::vector<int32_t> started;		// partitions being read
	std::map<int32_t, int64_t> unread_ends; // partition -> end offset at start, while not reached

	~State()
	{
		for (int32_t p : started)
			rd_kafka_consume_stop(rkt.get(), p);
	}

	void set_error(std::string text)
	{
		std::lock_guard lock(error_mutex);
		last_error = std::move(text);
	}
};

namespace {

void on_error(rd_kafka_t *, int err, const char *reason, void *opaque)
{
	static_cast<HeartbeatReader::State *>(opaque)->set_error(
		fmt::format("{}: {}", err_text(static_cast<rd_kafka_resp_err_t>(err)), reason));
}

} // namespace

HeartbeatReader::HeartbeatReader(HeartbeatReaderOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>())
{
	const int timeout_ms = static_cast<int>(options_.timeout.count());
	std::unique_ptr<rd_kafka_conf_t, KafkaDeleter> conf(rd_kafka_conf_new());
	set(conf.get(), "bootstrap.servers", options_.brokers);
	set(conf.get(), "client.id", "smithctl-fleet");
	// No group.id: the simple consumer below joins none and has nowhere to commit to.
	set(conf.get(), "enable.auto.commit", "false");
	set(conf.get(), "enable.auto.offset.store", "false");
	set(conf.get(), "enable.partition.eof", "true");
	set(conf.get(), "allow.auto.create.topics", "false");
	// Heartbeats are small; a partition's prefetch need not hold librdkafka's default 64 MiB.
	set(conf.get(), "queued.max.messages.kbytes", "4096");
	rd_kafka_conf_set_opaque(conf.get(), state_.get());
	rd_kafka_conf_set_error_cb(conf.get(), on_error);
	rd_kafka_conf_set_log_cb(conf.get(), nullptr); // errors reach the operator through on_error
	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr);
	if (!rk)
		throw std::runtime_error(fmt::format("librdkafka: {}", errstr));
	conf.release(); // rd_kafka_new owns it now
	state_->rk.reset(rk);

	// All topics' metadata: asking for one topic by name could create it on a broker that
	// creates topics on first use.
	const rd_kafka_metadata_t *raw = nullptr;
	const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &raw, timeout_ms);
	std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter> md(raw);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_poll(rk, 0); // serves on_error with the connection's own reason
		const std::string why = last_error();
		throw std::runtime_error(fmt::format("no Kafka broker at {} answered within {} s: {}",
						     options_.brokers, seconds(options_.timeout),
						     why.empty() ? err_text(err) : why));
	}
	const rd_kafka_metadata_topic_t *topic = nullptr;
	for (int i = 0; i < md->topic_cnt; ++i)
		if (options_.topic == md->topics[i].topic)
			topic = &md->topics[i];
	if (!topic || topic->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
		throw std::runtime_error(fmt::format(
			"topic \"{}\" does not exist on the brokers at {} (is it smithd's heartbeat_topic, "
			"and has any smithd with the Kafka sink sent a heartbeat?)",
			options_.topic, options_.brokers));
	if (topic->err)
		throw std::runtime_error(
			fmt::format("topic \"{}\": {}", options_.topic, err_text(topic->err)));

	std::unique_ptr<rd_kafka_topic_conf_t, KafkaDeleter> tconf(rd_kafka_topic_conf_new());
	set(tconf.get(), "auto.offset.reset", "earliest");
	set(tconf.get(), "enable.auto.commit", "false");
	state_->rkt.reset(rd_kafka_topic_new(rk, options_.topic.c_str(), tconf.release()));
	if (!state_->rkt)
		throw std::runtime_error(
			fmt::format("topic \"{}\": {}", options_.topic, err_text(rd_kafka_last_error())));
	state_->queue.reset(rd_kafka_queue_new(rk));

	for (int i = 0; i < topic->partition_cnt; ++i) {
		const int32_t p = topic->partitions[i].id;
		int64_t low = 0, high = 0;
		if (auto e = rd_kafka_query_watermark_offsets(rk, options_.topic.c_str(), p, &low, &high,
							      timeout_ms))
			throw std::runtime_error(
				fmt::format("topic \"{}\" partition {}: no end offset within {} s: {}",
					    options_.topic, p, seconds(options_.timeout), err_text(e)));
		if (high > low)
			state_->unread_ends[p] = high;
		if (rd_kafka_consume_start_queue(state_->rkt.get(), p, RD_KAFKA_OFFSET_BEGINNING,
						 state_->queue.get()) != 0)
			throw std::runtime_error(fmt::format("topic \"{}\" partition {}: {}", options_.topic,
							     p, err_text(rd_kafka_last_error())));
		state_->started.push_back(p);
	}
}

HeartbeatReader::~HeartbeatReader() = default;

std::string HeartbeatReader::last_error() const
{
	std::lock_guard lock(state_->error_mutex);
	return state_->last_error;
}

void HeartbeatReader::read_to_end(const MessageHandler &on_message, const std::atomic<bool> &stop)
{
	State &st = *state_;
	auto last_progress = Clock::now();
	while (!st.unread_ends.empty() && !stop) {
		rd_kafka_poll(st.rk.get(), 0);
		Message msg(rd_kafka_consume_queue(st.queue.get(), 100));
		if (!msg) {
			if (Clock::now() - last_progress > options_.timeout) {
				const std::string why = last_error();
				throw std::runtime_error(
					fmt::format("the brokers at {} sent nothing of topic \"{}\" for {} "
						    "s, before its end{}{}",
						    options_.brokers, options_.topic,
						    seconds(options_.timeout), why.empty() ? "" : ": ", why));
			}
			continue;
		}
		last_progress = Clock::now();
		const auto it = st.unread_ends.find(msg->partition);
		if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (it != st.unread_ends.end())
				st.unread_ends.erase(it);
			continue;
		}
		if (msg->err)
			throw std::runtime_error(fmt::format("topic \"{}\" partition {}: {}", options_.topic,
							     msg->partition, err_text(msg->err)));
		st.set_error("");
		on_message(std::string_view(static_cast<const char *>(msg->payload),
					    msg->payload ? msg->len : 0));
		if (it != st.unread_ends.end() && msg->offset + 1 >= it->second)
			st.unread_ends.erase(it);
	}
}

void HeartbeatReader::read_for(std::chrono::milliseconds wait, const MessageHandler &on_message,
			       const std::atomic<bool> &stop)
{
	State &st = *state_;
	const auto deadline = Clock::now() + wait;
	while (!stop) {
		rd_kafka_poll(st.rk.get(), 0);
		const auto left =
			std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
				.count();
		if (left <= 0)
			return;
		Message msg(
			rd_kafka_consume_queue(st.queue.get(), static_cast<int>(std::min<long>(left, 100))));
		if (!msg || msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			continue;
		if (msg->err) {
			st.set_error(fmt::format("partition {}: {}", msg->partition, err_text(msg->err)));
			continue;
		}
		st.set_error("");
		on_message(std::string_view(static_cast<const char *>(msg->payload),
					    msg->payload ? msg->len : 0));
	}
}

} // namespace smith::ctl
