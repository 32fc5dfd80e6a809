#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft: broker and controller in one JVM) on loopback, for
# smith's tests and for trying the Kafka sink by hand.
#
#   local-broker.sh fetch            resolve Kafka from Maven Central into the cache (once)
#   local-broker.sh start            fetch, format the store if new, start, wait until it answers
#   local-broker.sh stop [--keep-data]  SIGTERM, then SIGKILL after a timeout; data is kept
#   local-broker.sh wipe             stop and remove the data directory
#   local-broker.sh status           exit 0 if the broker answers, 1 if not
#   local-broker.sh topics [ARGS]    kafka-topics against the broker (default: --list)
#   local-broker.sh brokers          print the bootstrap address (for scripts)
#
# Every command is idempotent: start on a running broker, stop on a stopped one, fetch
# with a full cache all succeed at once. Concurrent callers are serialised by flock.
#
# Environment (defaults in brackets):
#   SMITH_KAFKA_VERSION          Kafka version [4.4.0; see README "Kafka" for why]
#   SMITH_KAFKA_CACHE            jar cache [/var/cache/smith/kafka-$SMITH_KAFKA_VERSION]
#   SMITH_KAFKA_DATA             store, config, pid file and log [/var/tmp/smith-kafka]
#   SMITH_KAFKA_PORT             PLAINTEXT listener on 127.0.0.1 [19092]
#   SMITH_KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 [19093]
#   SMITH_KAFKA_HEAP             JVM heap [512m]
#   SMITH_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer [60]
#   SMITH_KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL [30]
#   JAVA, MVN                    java and mvn executables [from PATH]
set -euo pipefail

readonly SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly VERSION=${SMITH_KAFKA_VERSION:-4.4.0}
readonly CACHE=${SMITH_KAFKA_CACHE:-/var/cache/smith/kafka-${VERSION}}
readonly DATA=${SMITH_KAFKA_DATA:-/var/tmp/smith-kafka}
readonly PORT=${SMITH_KAFKA_PORT:-19092}
readonly CONTROLLER_PORT=${SMITH_KAFKA_CONTROLLER_PORT:-19093}
readonly HEAP=${SMITH_KAFKA_HEAP:-512m}
readonly START_TIMEOUT=${SMITH_KAFKA_START_TIMEOUT:-60}
readonly STOP_TIMEOUT=${SMITH_KAFKA_STOP_TIMEOUT:-30}
readonly JAVA=${JAVA:-java}
readonly MVN=${MVN:-mvn}

readonly LIBS=$CACHE/libs
readonly FETCHED_MARK=$CACHE/.fetched  # written last: its presence means LIBS is complete
readonly STORE=$DATA/kraft-logs        # Kafka's log.dirs (topics and cluster metadata)
readonly PROPS=$DATA/server.properties
readonly LOG=$DATA/kafka.log           # the JVM's stdout and stderr (log4j writes to stdout)
readonly PID_FILE=$DATA/kafka.pid

log() { printf 'local-broker: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# Holds an exclusive lock on FILE for the rest of the process.
lock() {
	mkdir -p "$(dirname "$1")"
	exec 9>"$1"
	flock 9
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (see packaging/build-deps.txt)"
}

cmd_fetch() {
	[[ -f $FETCHED_MARK ]] && return 0
	need "$MVN" maven
	need "$JAVA" openjdk-17-jre-headless
	lock "$CACHE/.lock"
	[[ -f $FETCHED_MARK ]] && return 0 # another caller finished while we waited
	log "resolving org.apache.kafka:kafka_2.13:$VERSION from Maven Central into $LIBS"
	rm -rf "$LIBS.partial"
	# Maven 3.8 prints colour resets even in batch mode: strip them.
	"$MVN" -B -q -f "$SCRIPT_DIR/pom.xml" -Dkafka.version="$VERSION" \
		dependency:copy-dependencies -DoutputDirectory="$LIBS.partial" 2>&1 |
		sed 's/\x1b\[[0-9;]*m//g' >&2 ||
		die "maven could not resolve Kafka $VERSION"
	ls "$LIBS.partial"/kafka_2.13-"$VERSION".jar >/dev/null 2>&1 ||
		die "maven finished but kafka_2.13-$VERSION.jar is missing from $LIBS.partial"
	rm -rf "$LIBS"
	mv "$LIBS.partial" "$LIBS"
	echo "$VERSION" >"$FETCHED_MARK"
	log "cached $(ls "$LIBS" | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# Sends an ApiVersions v0 request and checks for a reply with error code 0. This is what
# "the broker answers" means here: an open port alone is not enough, since the listener
# socket is bound long before the broker serves requests.
probe() {
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		# size 15 | api_key 18 (ApiVersions) | version 0 | correlation_id 1 | client_id "smith"
		printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x01\x00\x05smith" >&3
		reply=$(head -c 10 <&3 | od -An -tx1 | tr -d " \n")
		# size (4 bytes, any) | correlation_id 1 | error_code 0
		[[ ${reply:8:12} == 000000010000 ]]
	' _ "$PORT" 2>/dev/null
}

# Succeeds while process PID exists and has not exited (a zombie has exited). Used for the
# broker just started, whose command line is not yet the JVM's until setsid has exec'd it.
alive() {
	local stat
	{ stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
	[[ ${stat##*) } != Z* ]]
}

# Prints the pid from the pid file if that process is still this data dir's broker.
running_pid() {
	[[ -f $PID_FILE ]] || return 1
	local pid
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS" || return 1
	echo "$pid"
}

write_config() {
	cat >"$PROPS" <<EOF
# Written by packaging/kafka/local-broker.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$STORE

# One node: every replication factor and quorum is 1.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0

# Small and quick to stop: tests restart the broker.
num.network.threads=2
num.io.threads=2
log.retention.hours=24
log.segment.bytes=67108864
controlled.shutdown.enable=true
EOF
	cat >"$DATA/log4j2.properties" <<'EOF'
# Broker log: INFO and up to stdout, which local-broker.sh sends to kafka.log.
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.controller.name=org.apache.kafka.controller
logger.controller.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
# The full configuration dump (about 2000 lines per start); server.properties is beside the log.
logger.config.name=org.apache.kafka.common.config.AbstractConfig
logger.config.level=WARN
EOF
}

# A random KRaft cluster id: 16 random bytes, URL-safe base64 without padding. Not one that starts
# with "-", which the storage tool's argument parser would take for an option (1 in 64).
random_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id == -* ]] || break
	done
	echo "$id"
}

# The broker's JVM options; the storage tool uses the same ones.
java_opts() {
	JAVA_OPTS=(-Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-Djava.awt.headless=true
		-Dlog4j2.configurationFile="$DATA/log4j2.properties"
		-cp "$LIBS/*")
}

format_store() {
	[[ -f $STORE/meta.properties ]] && return 0
	local id
	id=$(random_cluster_id)
	log "formatting $STORE (cluster id $id)"
	java_opts
	"$JAVA" "${JAVA_OPTS[@]}" kafka.tools.StorageTool format -t "$id" -c "$PROPS" >>"$LOG" 2>&1 ||
		die "formatting the store failed; $LOG ends with:$(echo; tail -n 20 "$LOG")"
}

cmd_start() {
	cmd_fetch
	need "$JAVA" openjdk-17-jre-headless
	mkdir -p "$DATA"
	lock "$DATA/.lock"
	if running_pid >/dev/null && probe; then
		return 0
	fi
	if ! running_pid >/dev/null && probe; then
		die "something else answers as a Kafka broker on 127.0.0.1:$PORT; set SMITH_KAFKA_PORT"
	fi
	if ! running_pid >/dev/null; then
		write_config
		format_store
		log "starting Kafka $VERSION on 127.0.0.1:$PORT (data $DATA, log $LOG)"
		echo "=== start $(date -Is)" >>"$LOG"
		# setsid: the broker outlives the caller's session and its terminal signals.
		# 9>&-: the broker must not inherit the lock.
		java_opts
		setsid "$JAVA" "${JAVA_OPTS[@]}" kafka.Kafka "$PROPS" </dev/null >>"$LOG" 2>&1 9>&- &
		echo $! >"$PID_FILE"
	fi
	local pid
	pid=$(<"$PID_FILE")
	local deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if probe; then
			log "broker answers on 127.0.0.1:$PORT (pid $pid)"
			return 0
		fi
		# Not running_pid: right after the fork the child's command line is still this
		# script's, until setsid and then java have been exec'd.
		alive "$pid" || break
		sleep 0.5
	done
	if alive "$pid"; then
		log "no answer on 127.0.0.1:$PORT after ${START_TIMEOUT}s"
	else
		log "the broker exited during start"
	fi
	log "$LOG ends with:"
	tail -n 40 "$LOG" >&2
	exit 1
}

cmd_stop() {
	mkdir -p "$DATA"
	lock "$DATA/.lock"
	local pid
	if ! pid=$(running_pid); then
		rm -f "$PID_FILE"
		return 0
	fi
	log "stopping broker pid $pid"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + STOP_TIMEOUT))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "still running after ${STOP_TIMEOUT}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$PID_FILE"
}

cmd_wipe() {
	cmd_stop
	log "removing $DATA"
	rm -rf "$DATA"
}

cmd_status() {
	if probe; then
		echo "running: Kafka $VERSION on 127.0.0.1:$PORT, pid $(running_pid || echo '?'), data $DATA"
		return 0
	fi
	echo "not answering on 127.0.0.1:$PORT"
	return 1
}

cmd_topics() {
	cmd_fetch
	# TopicCommand moved from core (kafka.admin) to kafka-tools in Kafka 3.7.
	local main=kafka.admin.TopicCommand
	if grep -qa 'org/apache/kafka/tools/TopicCommand.class' "$LIBS"/kafka-tools-*.jar 2>/dev/null; then
		main=org.apache.kafka.tools.TopicCommand
	fi
	(($# > 0)) || set -- --list
	"$JAVA" -Xmx256m -cp "$LIBS/*" "$main" \
		--bootstrap-server "127.0.0.1:$PORT" "$@"
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

case ${1:-} in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop)
	[[ -z ${2:-} || ${2:-} == --keep-data ]] || usage
	cmd_stop
	;;
wipe) cmd_wipe ;;
status) cmd_status ;;
topics)
	shift
	cmd_topics "$@"
	;;
brokers) echo "127.0.0.1:$PORT" ;;
*) usage ;;
esac
