// The Kafka sink's own recovery, without a broker (events wait in the spool): a fatal producer error,
// raised through librdkafka's test API as the broker would cause it (idempotence fenced), rebuilds
// the producer, and nothing the old one held is lost.
#include <catch2/catch.hpp>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "sink/kafka_sink.h"

using namespace std::chrono_literals;

namespace {
// A spool directory of its own, removed at the end, and sink options for a broker nobody runs.
struct NoBroker {
	std::filesystem::path dir;
	smith::sink::KafkaOptions options;

	explicit NoBroker(bool durable)
	{
		char tmpl[] = "/tmp/smith-kafka-sink-XXXXXX";
		REQUIRE(mkdtemp(tmpl) != nullptr);
		dir = tmpl;
		options.properties["bootstrap.servers"] = "127.0.0.1:9"; // nothing listens: every event waits
		options.spool.dir = (dir / "spool").string();
		options.close_timeout = 200ms;
		options.durable = durable;
	}
	~NoBroker()
	{
		std::error_code ignored;
		std::filesystem::remove_all(dir, ignored);
	}
};
} // namespace

TEST_CASE("kafka sink: a fatal producer error rebuilds the producer, and what it held waits in the spool",
	  "[unit][kafka]")
{
	NoBroker nb(false); // events in librdkafka's queue, which the rebuild must purge into the spool
	const smith::sink::KafkaOptions &o = nb.options;
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
}

// durability: memory, the broker away, and the spool's disk refusing every write (RLIMIT_FSIZE
// stands in for a full disk): events that failed back into the spool wait in its memory, and the
// events after them must wait behind them, not overtake them into librdkafka's queue.
TEST_CASE("kafka sink: events behind a spool that cannot write wait behind it (durability: memory)",
	  "[unit][kafka]")
{
	NoBroker nb(false);
	smith::sink::KafkaOptions &o = nb.options;
	o.properties["message.timeout.ms"] = "300"; // queued events come back to the spool soon
	rlimit saved{};
	REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	// Restored however the test ends: the other tests run in this process.
	struct Restore {
		rlimit limit;
		sighandler_t handler;
		~Restore()
		{
			setrlimit(RLIMIT_FSIZE, &limit);
			signal(SIGXFSZ, handler);
		}
	} restore{saved, signal(SIGXFSZ, SIG_IGN)}; // a write past the limit fails with EFBIG
	{
		smith::sink::KafkaSink sink(o);
		rlimit none = saved;
		none.rlim_cur = 0;
		REQUIRE(setrlimit(RLIMIT_FSIZE, &none) == 0);
		for (int i = 0; i < 5; ++i)
			REQUIRE(sink.write("{\"seq\":" + std::to_string(i + 1) + "}\n", "host"));
		sink.flush();
		CHECK(sink.status().in_flight == 5);
		// They time out, back into the spool, which cannot write them: they wait in its memory.
		for (int i = 0; i < 100 && sink.status().spooled < 5; ++i) {
			sink.flush();
			std::this_thread::sleep_for(20ms);
		}
		REQUIRE(sink.status().spooled == 5);
		CHECK(sink.status().in_flight == 0);

		for (int i = 5; i < 10; ++i)
			REQUIRE(sink.write("{\"seq\":" + std::to_string(i + 1) + "}\n", "host"));
		for (int i = 0; i < 5; ++i) {
			sink.flush();
			std::this_thread::sleep_for(20ms);
		}
		auto s = sink.status();
		CHECK(s.in_flight == 0); // nothing overtook the unwritten events
		CHECK(s.spooled == 10);

		REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
		sink.flush();
		s = sink.status();
		CHECK(s.spool_records == 10);
		CHECK(s.spool_dropped == 0);
		CHECK(s.written == 0);
	}
}

TEST_CASE("kafka sink: the random partitioner, which would put a host's events out of order, is refused",
	  "[unit][kafka]")
{
	NoBroker nb(true);
	nb.options.properties["partitioner"] = "random";
	CHECK_THROWS_WITH(smith::sink::KafkaSink(nb.options),
			  Catch::Contains("'partitioner' = 'random'") && Catch::Contains("host_id"));
	nb.options.properties["partitioner"] = "murmur2_random"; // random only for messages without a key
	CHECK_NOTHROW(smith::sink::KafkaSink(nb.options));
}
