// The Kafka sink's own recovery, without a broker (events wait in the spool): a fatal producer error,
// raised through librdkafka's test API as the broker would cause it (idempotence fenced), rebuilds
// the producer, and nothing the old one held is lost.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "sink/kafka_sink.h"

using namespace std::chrono_literals;

TEST_CASE("kafka sink: a fatal producer error rebuilds the producer, and what it held waits in the spool",
	  "[unit][kafka]")
{
	char tmpl[] = "/tmp/smith-kafka-sink-XXXXXX";
	REQUIRE(mkdtemp(tmpl) != nullptr);
	const std::filesystem::path dir = tmpl;

	smith::sink::KafkaOptions o;
	o.properties["bootstrap.servers"] = "127.0.0.1:9"; // nothing listens: every event waits
	o.spool.dir = (dir / "spool").string();
	o.close_timeout = 200ms;
	o.durable = false; // events in librdkafka's queue, which the rebuild must purge into the spool
	{
		smith::sink::KafkaSink sink(o);
		for (int i = 0; i < 10; ++i)
			REQUIRE(sink.write("{\"seq\":" + std::to_string(i + 1) + "}\n", "host"));
		sink.flush();
		CHECK(sink.status().in_flight == 10);

		sink.inject_fatal_error("fenced, for a test");
		for (int i = 0; i < 50 && sink.status().producer_rebuilds == 0; ++i) {
			sink.flush();
			std::this_thread::sleep_for(20ms);
		}
		auto s = sink.status();
		CHECK(s.producer_rebuilds == 1);
		// The old producer's queue went to the spool, where it stays until delivered (the new
		// producer may already have some of it in flight).
		CHECK(s.spool_records == 10);

		// The new producer takes events; they wait behind the spooled ones.
		for (int i = 10; i < 15; ++i)
			REQUIRE(sink.write("{\"seq\":" + std::to_string(i + 1) + "}\n", "host"));
		sink.flush();
		sink.close();
		s = sink.status();
		CHECK(s.spool_records == 15);
		CHECK(s.written == 0);
		CHECK(s.dead_lettered == 0);
	}
	std::filesystem::remove_all(dir);
}
