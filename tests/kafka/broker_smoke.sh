#!/usr/bin/env bash
# The local broker and Debian's librdkafka work together, and a broker restart keeps the data:
# start, produce N idempotently with lz4 and acks=all, read N back, stop, start, read N again.
#
#   broker_smoke.sh PRODUCE_CHECK CONSUME [N]
#
# It runs its own broker (data dir, ports) so that it never touches the one other tests use,
# and removes it at the end. Skipped (tests/skip.sh) when java or mvn is missing.
set -euo pipefail
# shellcheck source=../skip.sh
. "$(dirname "${BASH_SOURCE[0]}")/../skip.sh"

produce_check=$1
consume=$2
count=${3:-1000}
broker_sh=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../packaging/kafka" && pwd)/local-broker.sh

for tool in java mvn; do
	if ! command -v "$tool" >/dev/null; then
		skip "$tool not installed (packaging/install-build-deps.sh)"
	fi
done

export SMITH_KAFKA_DATA=${SMITH_KAFKA_SMOKE_DATA:-/var/tmp/smith-kafka-smoke}
export SMITH_KAFKA_PORT=${SMITH_KAFKA_SMOKE_PORT:-19094}
export SMITH_KAFKA_CONTROLLER_PORT=${SMITH_KAFKA_SMOKE_CONTROLLER_PORT:-19095}
brokers=127.0.0.1:$SMITH_KAFKA_PORT
topic=smoke-$$-$RANDOM
trap '"$broker_sh" wipe >/dev/null 2>&1 || true' EXIT

step() {
	local started=$SECONDS
	"$@"
	echo "  ($((SECONDS - started)) s)"
}

expect_count() {
	local got
	got=$("$consume" --brokers "$brokers" --topic "$topic" --from-beginning --idle-ms 3000 \
		--max $((count * 2)) | grep -c "\"n\":" || true)
	echo "read back $got of $count from $topic"
	[[ $got == "$count" ]]
}

"$broker_sh" wipe >/dev/null 2>&1
echo "fetch"; step "$broker_sh" fetch
echo "start"; step "$broker_sh" start
echo "produce"; step "$produce_check" --brokers "$brokers" --topic "$topic" --count "$count"
echo "consume"; step expect_count
echo "stop"; step "$broker_sh" stop
if "$broker_sh" status >/dev/null; then
	echo "FAIL: broker still answers after stop"
	exit 1
fi
echo "restart"; step "$broker_sh" start
echo "consume after restart"; step expect_count
echo "stop"; step "$broker_sh" stop
echo "ok"
