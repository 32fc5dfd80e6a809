// The status snapshot in the Prometheus text exposition format, version 0.0.4: what smithd's
// metrics listener (metrics_listen, src/daemon/metrics_server.h) serves on GET /metrics.
//
// Written by hand, not with prometheus-cpp: Debian ships prometheus-cpp (and the civetweb server
// its pull support needs) as shared libraries only, so it cannot link into the fully static smithd
// of the release packages (cmake/Dependencies.cmake) without building both from source, and its
// registry of live counters would only mirror a snapshot that is already there. The format is
// small: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4).
//
// Names: smith_ prefix, _total on counters, base units (_seconds, _bytes). Every family has HELP
// and TYPE lines. Label values are escaped as the format says (backslash, double quote and line
// feed as \\, \" and \n) and made valid UTF-8 (each invalid byte becomes U+FFFD), so a hostname,
// path or reason with any bytes in it still gives text a Prometheus server parses. Families may be
// added; a published name, type or label is never changed, since dashboards and alerts use them.
#pragma once

#include <string>
#include <string_view>

#include "control/status.h"

namespace smith::control {

// The Content-Type of status_to_prometheus's text.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every metric of the snapshot (README, "Prometheus metrics" lists them), one family after another,
// each line ending in '\n'.
std::string status_to_prometheus(const StatusSnapshot &s);

// `value` as the text between the double quotes of a label value: \, " and line feed escaped, invalid
// UTF-8 replaced by U+FFFD, every other byte as it is.
void append_label_value(std::string &out, std::string_view value);

} // namespace smith::control
