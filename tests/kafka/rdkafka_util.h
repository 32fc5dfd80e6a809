// Small RAII and error helpers shared by the Kafka test tools (librdkafka C API).
// Error policy: a usage or setup error throws ToolError, which main() prints to stderr
// before exiting with status 1.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace smith::kafka_tools {

struct ToolError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

struct KafkaDeleter {
	void operator()(rd_kafka_t *rk) const { rd_kafka_destroy(rk); }
	void operator()(rd_kafka_conf_t *conf) const { rd_kafka_conf_destroy(conf); }
	void operator()(rd_kafka_topic_partition_list_t *list) const
	{
		rd_kafka_topic_partition_list_destroy(list);
	}
	void operator()(const rd_kafka_metadata_t *md) const { rd_kafka_metadata_destroy(md); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;

// Sets one property; an unknown name or bad value is a ToolError naming both.
inline void conf_set(rd_kafka_conf_t *conf, const std::string &name, const std::string &value)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		throw ToolError("librdkafka property " + name + "=" + value + ": " + errstr);
}

// Sets one "name=value" property, as given on a command line.
inline void conf_set_pair(rd_kafka_conf_t *conf, const std::string &pair)
{
	auto eq = pair.find('=');
	if (eq == std::string::npos || eq == 0)
		throw ToolError("property " + pair + ": expected NAME=VALUE");
	conf_set(conf, pair.substr(0, eq), pair.substr(eq + 1));
}

// Creates the client; on success it owns conf, on failure conf is still ours (librdkafka's rule).
inline KafkaHandle kafka_new(rd_kafka_type_t type, KafkaConf conf)
{
	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
	if (!rk)
		throw ToolError(std::string("rd_kafka_new: ") + errstr);
	conf.release();
	return KafkaHandle(rk);
}

inline std::string err_text(rd_kafka_resp_err_t err)
{
	return std::string(rd_kafka_err2name(err)) + " (" + rd_kafka_err2str(err) + ")";
}

inline double ms_since(std::chrono::steady_clock::time_point start)
{
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace smith::kafka_tools
