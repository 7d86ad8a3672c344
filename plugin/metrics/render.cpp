// SPDX-License-Identifier: MIT
#include "plugin/metrics/render.h"

#include <cstdint>
#include <cstdio>

namespace rpsync::metrics {

void Histogram::observe(double seconds) {
  ++count;
  sum += seconds;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++buckets[i];
      return;
    }
  }
}

namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values come from our own condition names; escape anyway (\\, \", \n).
std::string escaped(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
}

void sample_text(std::string& out, std::string_view name, std::string_view labels,
                 std::string_view value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

// Counts are written as exact integers, never through a double.
void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t v) {
  sample_text(out, name, labels, std::to_string(v));
}

void sample(std::string& out, std::string_view name, std::string_view labels, double v) {
  sample_text(out, name, labels, number(v));
}

void gauge(std::string& out, std::string_view name, std::string_view help, int v) {
  family(out, name, "gauge", help);
  sample_text(out, name, "", std::to_string(v));
}

void counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t v) {
  family(out, name, "counter", help);
  sample(out, std::string(name) + "_total", "", v);
}

void syncs(std::string& out, const Snapshot& s) {
  family(out, "rpsync_syncs", "counter",
         "Sync requests answered, by outcome (delta, empty, error) and failure condition.");
  sample(out, "rpsync_syncs_total", "outcome=\"delta\"", s.syncs_delta);
  sample(out, "rpsync_syncs_total", "outcome=\"empty\"", s.syncs_empty);
  for (const auto& [condition, n] : s.sync_errors)
    sample(out, "rpsync_syncs_total",
           "outcome=\"error\",condition=\"" + escaped(condition) + "\"", n);
}

void rejected(std::string& out, const Snapshot& s) {
  family(out, "rpsync_requests_rejected", "counter",
         "rpsync requests refused by a configured limit, by limit.");
  for (const auto& [limit, n] : s.rejected)
    sample(out, "rpsync_requests_rejected_total", "limit=\"" + escaped(limit) + "\"", n);
}

void histogram(std::string& out, std::string_view name, std::string_view help,
               const Histogram& h) {
  family(out, name, "histogram", help);
  out.append("# UNIT ").append(name).append(" seconds\n");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    cumulative += h.buckets[i];
    sample(out, std::string(name) + "_bucket", "le=\"" + number(Histogram::kBounds[i]) + "\"",
           cumulative);
  }
  sample(out, std::string(name) + "_bucket", "le=\"+Inf\"", h.count);
  sample(out, std::string(name) + "_sum", "", h.sum);
  sample(out, std::string(name) + "_count", "", h.count);
}

}  // namespace

std::string render(const Snapshot& s, double uptime_seconds) {
  std::string out;
  gauge(out, "rpsync_ready", "1 when the component answers rpsync requests.", s.ready);
  gauge(out, "rpsync_connected", "1 when the component's stream to the server is up.",
        s.connected);
  gauge(out, "rpsync_privileged",
        "1 when connected and the server granted roster get and presence roster.",
        s.privileged);
  gauge(out, "rpsync_server_gate_feature",
        "1 when every served domain advertises mod_rpsync_gate (urn:xmpp:rpsync:0#synced), "
        "0 when one does not, -1 before the server was asked.",
        s.gate_feature);
  family(out, "rpsync_uptime_seconds", "gauge", "Seconds since the process started.");
  out.append("# UNIT rpsync_uptime_seconds seconds\n");
  sample(out, "rpsync_uptime_seconds", "", uptime_seconds);
  syncs(out, s);
  counter(out, "rpsync_sync_bytes_sent", "Bytes of the delta payloads sent in sync answers.",
          s.sync_bytes_sent);
  counter(out, "rpsync_sync_full_login_bytes_estimated",
          "Estimated presence bytes of the full logins the answered syncs replaced.",
          s.full_login_bytes_estimated);
  counter(out, "rpsync_presence_ingested", "Presence stanzas observed from the server.",
          s.presence_ingested);
  rejected(out, s);
  histogram(out, "rpsync_store_commit_seconds",
            "Time to make the store durable (one flush: SQLite commit or Redis MULTI/EXEC).",
            s.store_commit);
  family(out, "rpsync_loop_lag_max_seconds", "gauge",
         "Largest lateness of the event loop's 20 ms probe timer over the last 10 to 20 s.");
  out.append("# UNIT rpsync_loop_lag_max_seconds seconds\n");
  sample(out, "rpsync_loop_lag_max_seconds", "", s.loop_lag_max_seconds);
  out.append("# EOF\n");
  return out;
}

}  // namespace rpsync::metrics
