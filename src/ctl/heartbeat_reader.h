// Reading smithd's heartbeat topic for `smithctl fleet`: every partition from its first message, as
// a consumer of no group (librdkafka's simple consumer). It joins no group and commits no offset,
// so the consumers of the topic and their positions are left as they were.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace smith::ctl {

struct HeartbeatReaderOptions {
	std::string brokers;		       // bootstrap servers, HOST:PORT[,...]
	std::string topic = "smith-heartbeat"; // smithd's heartbeat_topic
	// How long the brokers may take to answer: to the first request (metadata, end offsets), and
	// between two answers while reading up to the end offsets.
	std::chrono::milliseconds timeout{10000};
};

using MessageHandler = std::function<void(std::string_view)>;

class HeartbeatReader {
public:
	// Connects, finds the topic's partitions and where each ends now, and starts reading each
	// from its first message. Throws std::runtime_error, with a message for the operator, when no
	// broker answers within the timeout or the topic does not exist.
	explicit HeartbeatReader(HeartbeatReaderOptions options);
	~HeartbeatReader();
	HeartbeatReader(const HeartbeatReader &) = delete;
	HeartbeatReader &operator=(const HeartbeatReader &) = delete;

	// Hands every message before the end offsets found at construction to `on_message`, in each
	// partition's order (partitions interleave). Throws std::runtime_error when the brokers stay
	// silent for longer than the timeout before the end, or a partition cannot be read. Returns
	// early once `stop` is set.
	void read_to_end(const MessageHandler &on_message, const std::atomic<bool> &stop);

	// Hands the messages that arrive within `wait` to `on_message` (for --watch, after
	// read_to_end). Errors do not throw: the brokers may come back; last_error() tells. Returns
	// early once `stop` is set.
	void read_for(std::chrono::milliseconds wait, const MessageHandler &on_message,
		      const std::atomic<bool> &stop);

	// librdkafka's most recent error about the connection or the topic; "" when a message arrived
	// after it.
	std::string last_error() const;

	struct State; // librdkafka's handles; public for librdkafka's callbacks in the .cpp

private:
	HeartbeatReaderOptions options_;
	std::unique_ptr<State> state_;
};

} // namespace smith::ctl
