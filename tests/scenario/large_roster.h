// SPDX-License-Identifier: MIT
// A user with a large roster on a real server, shared by the large-roster scenario
// (tests/scenario/large_roster_test.cpp) and its benchmark (bench/large_roster).
//
// The roster has `live` contacts, who are users of the server and hold the owner with
// subscription both (so their presence reaches her and the component), and `offline`
// roster-only contacts c0@DOMAIN .. c<n-1>@DOMAIN (no accounts: they are never online, as
// most of a large roster is at any moment). The offline items are written in one go:
// Prosody's roster file of the owner (the owner must not have logged in yet, Prosody reads
// the file on her first session), ejabberd's mod_admin_extra push_roster (one admin
// command per 1,000 contacts, from a file in the server's directory).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/scenario/world.h"

namespace rpsync::test::scenario {

// c<first>@domain .. c<first+n-1>@domain.
inline std::vector<std::string> numbered_contacts(int n, const std::string& domain, int first = 0) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = first; i < first + n; ++i) out.push_back("c" + std::to_string(i) + "@" + domain);
  return out;
}

// `owner` and the live contacts as users, each live contact mutual with `owner`.
inline WorldSpec large_roster_spec(const std::string& owner, const std::vector<std::string>& live) {
  return user_with_contacts(owner, live);
}

// Adds the roster-only contacts to `owner`'s roster on the running server, subscription
// both; false with `why` when the server refused.
inline bool add_offline_contacts(ProsodyServer& server, const std::string& owner,
                                 const std::vector<std::string>& contacts, std::string*) {
  server.add_roster_items(owner, contacts, Subscription::kBoth);
  return true;
}

// One push_roster of `contacts` from a term file [{User, Host, Group, Nick}, ...].
inline bool push_roster(EjabberdServer& server, const std::string& owner,
                        const std::vector<std::string>& contacts, std::string* why) {
  const std::filesystem::path file = std::filesystem::path(server.dir()) / "large_roster.txt";
  {
    std::ofstream out(file, std::ios::trunc);
    out << "[";
    for (std::size_t i = 0; i < contacts.size(); ++i) {
      const auto at = contacts[i].find('@');
      out << (i ? ",\n" : "") << "{\"" << contacts[i].substr(0, at) << "\",\""
          << contacts[i].substr(at + 1) << "\",\"\",\"" << contacts[i].substr(0, at) << "\"}";
    }
    out << "].\n";
  }
  std::filesystem::permissions(file, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  const auto at = owner.find('@');
  const std::string body = "{\"file\":\"" + file.string() + "\",\"user\":\"" + owner.substr(0, at) +
                           "\",\"host\":\"" + owner.substr(at + 1) + "\"}";
  return server.api("push_roster", body, why).has_value();
}

// In slices, each well within the harness's 10 s per admin command.
inline bool add_offline_contacts(EjabberdServer& server, const std::string& owner,
                                 const std::vector<std::string>& contacts, std::string* why) {
  constexpr std::size_t kSlice = 1000;
  for (std::size_t i = 0; i < contacts.size(); i += kSlice) {
    const auto end = contacts.begin() + static_cast<long>(std::min(contacts.size(), i + kSlice));
    if (!push_roster(server, owner, {contacts.begin() + static_cast<long>(i), end}, why))
      return false;
  }
  return true;
}

}  // namespace rpsync::test::scenario
