// The behaviour suite's environment: which backends a run checks, how long things may take there, and
// the daemons every behaviour shares.
//
// Each behaviour is written once and checked against every backend the environment offers: ebpf on
// this host (CTest, tests/CMakeLists.txt), ebpf and lkm in every guest kernel (tests/vm/run-vm.sh
// boots them and runs this same program there). A behaviour starts from shared_daemons(), acts, then
// expect_in_every_backend() checks the event in each daemon's output and compares the daemons' events
// with each other: apart from backend, seq, run_id and ts they must be identical.
//
// Tags: [lkm] needs smith.ko (the guests; the host leaves it out), [sink] is about smithd's output side
// alone and runs on the host only, [kafka] needs a broker (host only), [guest] changes the whole
// machine (the wall clock) and runs in the guests only.
//
// Environment variables (the guests' init sets them):
//   SMITH_TEST_BACKENDS       backends to check, comma-separated: ebpf, lkm (default: ebpf)
//   SMITH_TEST_EVENT_TIMEOUT  seconds from an action to its event (default 10; 120 under TCG)
//   SMITH_TEST_START_TIMEOUT  seconds a smithd may take to start (default 90; loading the BPF programs
//                             takes minutes on an emulated CPU)
//   SMITH_TEST_MODULE_DIR     where smith.ko and the test module are (default /opt/smith/modules)
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "smithd_fixture.h"

namespace smith::e2e {

const std::vector<std::string> &backends_under_test();
bool testing_backend(const std::string &backend);
std::chrono::milliseconds event_timeout();
std::chrono::seconds start_timeout();
std::string smith_ko();	      // <module dir>/smith.ko
std::string test_module_ko(); // <module dir>/smith_test_mod.ko
inline const std::string kTestModule = "smith_test_mod";

// How a daemon of `backend` runs: ebpf as --backend=auto (which must pick ebpf where the kernel can
// run it), lkm as --backend=lkm (smith.ko loaded beforehand).
SmithdOptions daemon_options(const std::string &backend);

// The backend under test whose daemon is ready soonest, for tests of what no backend changes
// (detaching, the pid file): lkm when it is under test (smith.ko loads in about a second), else the
// first. An ebpf start verifies every program: seconds here, up to half a minute on a guest's
// emulated CPU. The host runs these tests with ebpf.
std::string quickest_backend();

// A daemon of its own for a test about smithd's output side: the first backend under test, with
// `extra` arguments; without `file_sink`, `extra` chooses the sink.
SmithdOptions sink_daemon_options(std::vector<std::string> extra, bool file_sink = true);

// The shared daemons: one per backend under test, started (all at once) at first use and kept for the
// whole program. Call before acting, so that they see the action. Fails the test case when they could
// not start, and every later one at once.
std::vector<Smithd *> shared_daemons();

using EventCheck = std::function<void(const Event &, const Smithd &)>;

// Waits for the event matching `pred` in every shared daemon, runs `check` on each, and compares the
// daemons' events with each other. Returns each daemon's event, in shared_daemons() order.
std::vector<Event> expect_in_every_backend(const std::string &what, const EventPredicate &pred,
					   const EventCheck &check, int64_t pid_hint);

// What every event of daemon `d` holds: the schema v1 key order for its type, schema 1, data_type,
// the backend `d` runs, this host's hostname and machine id, seq > 0, a 32-hex-digit run_id, a ts
// within the event timeout of now, and no container.
void check_common(const Event &e, const std::string &type, const Smithd &d);
// The fields the test's processes (this one and its children) share with this process: uid/gid/euid/
// egid 0 and user "root", pgid, sid, tty, sessionid, pid/mnt/net namespaces, cgroup id.
void check_inherited_context(const Event &e);

// Runs `/bin/true <word>` and waits until every daemon in `ds` reported it; "" or why not.
std::string exec_marker(const std::vector<Smithd *> &ds, const std::string &word);
// Position of the marker exec `word` in a daemon's events, or -1.
long marker_index(Smithd &d, const std::string &word);
// The event's (key, minified value) pairs, without what differs by design between daemons (seq,
// run_id, ts, backend).
std::vector<std::pair<std::string, std::string>> comparable_fields(const Event &e);
// seq runs 1, 2, 3, ... in the order of the output file: no event was lost between kernel and sink.
void check_contiguous_seq(Smithd &d);

} // namespace smith::e2e
