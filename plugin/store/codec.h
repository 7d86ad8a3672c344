// SPDX-License-Identifier: MIT
// Compact binary encodings of the values a backend stores as blobs. Versioned by their
// first byte so a later format can still read old rows. Decoders return nullopt on any
// malformed input (truncated, trailing bytes, unknown version or enum value).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/journal.h"
#include "protocol/presence.h"

namespace rpsync::store {

std::string encode_fields(const proto::PresenceFields& f);
std::optional<proto::PresenceFields> decode_fields(std::string_view blob);

// A resource row: its fields (nullopt: a tombstone) and its change history when the
// engine journaled one. Without history and with fields the blob is encode_fields()'s, so
// rows written before history was kept decode as rows without it.
struct ResourceRow {
  std::optional<proto::PresenceFields> fields;
  std::optional<core::Versions> versions;
};
std::string encode_resource(const proto::PresenceFields* fields, const core::Versions* versions);
std::optional<ResourceRow> decode_resource(std::string_view blob);
// The row a presence mutation writes; nullopt when it deletes the row.
std::optional<std::string> resource_blob(const core::PutResource& m);
std::optional<std::string> resource_blob(const core::EraseResource& m);
// Appends a decoded row to an image: available resources and tombstones apart.
void add_to_image(core::Image& img, std::string jid, ResourceRow row);

std::string encode_contacts(const std::vector<std::string>& contacts);
std::optional<std::vector<std::string>> decode_contacts(std::string_view blob);

// The two key moments of a session (user, stream and resource are columns).
std::string encode_txns(const core::TxnRecord& newest,
                        const std::optional<core::TxnRecord>& previous);
bool decode_txns(std::string_view blob, core::TxnRecord& newest,
                 std::optional<core::TxnRecord>& previous);

// A run of presence mutations stored as one log row: records of (jid, row or erase).
// Views point into the blob passed to decode_log.
struct LogRecord {
  std::string_view jid;
  std::optional<std::string_view> fields;  // an encode_resource blob; nullopt = erase
};
void append_log_record(std::string& out, std::string_view jid,
                       const std::optional<std::string>& row);  // nullopt = erase
bool decode_log(std::string_view blob, std::vector<LogRecord>& out);

}  // namespace rpsync::store
