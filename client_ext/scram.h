// SPDX-License-Identifier: MIT
// SCRAM-SHA-1 (RFC 5802) for the client side, with the salted password cached per
// (account, salt, iteration count) as RFC 5802 §5.1 allows, so a login whose salt and
// iteration count did not change skips the PBKDF2 (4096 rounds: 35-45 ms in gloox 1.0.24's
// own SHA-1 on the bench machine; OpenSSL's PKCS5_PBKDF2_HMAC when it must run).
//
// The pure parts (message parsing, proof, server signature) are free functions tested
// with RFC 5802's example; Client (client.h) drives the exchange on the wire.
//
// What is cached is SaltedPassword = Hi(password, salt, i). It is a credential: with it
// one can log in to this account on this server (as long as the server keeps the salt),
// though it does not reveal the password. Store it as carefully as the password.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace rpsync::client {

// Where derived SCRAM keys are kept between logins. A stale entry (the password changed
// but the server kept its salt) is harmless: the server rejects the proof, Client erases
// the entry and authenticates again with a freshly derived key (see client.h).
class ScramCache {
 public:
  virtual ~ScramCache() = default;
  // The SaltedPassword for (account, salt, iterations), if stored. `salt` is raw bytes.
  virtual std::optional<std::string> load_salted_password(const std::string& account,
                                                          const std::string& salt,
                                                          std::uint32_t iterations) = 0;
  // Replaces the account's entry (one per account: a new salt supersedes the old one).
  virtual void save_salted_password(const std::string& account, const std::string& salt,
                                    std::uint32_t iterations,
                                    const std::string& salted_password) = 0;
  virtual void erase_salted_password(const std::string& account) = 0;
};

// In-process cache: the default of Client (so repeated logins of one process skip PBKDF2).
class MemoryScramCache final : public ScramCache {
 public:
  std::optional<std::string> load_salted_password(const std::string& account,
                                                  const std::string& salt,
                                                  std::uint32_t iterations) override;
  void save_salted_password(const std::string& account, const std::string& salt,
                            std::uint32_t iterations, const std::string& salted_password) override;
  void erase_salted_password(const std::string& account) override;

 private:
  struct Entry {
    std::string salt;
    std::uint32_t iterations = 0;
    std::string salted_password;
  };
  std::map<std::string, Entry> entries_;
};

namespace scram {

// Counters of SCRAM logins run by Client (for tests and benchmarks).
struct Stats {
  std::uint32_t logins = 0;       // SCRAM exchanges started by Client
  std::uint32_t cache_hits = 0;   // proofs computed from a cached SaltedPassword
  std::uint32_t derivations = 0;  // PBKDF2 runs
  std::uint32_t retries = 0;      // a cached key was rejected; authenticated again
  std::uint32_t bad_server_signature = 0;
};

// The server-first-message (RFC 5802 §5.1): r=nonce,s=base64(salt),i=count.
struct ServerFirst {
  std::string nonce;
  std::string salt;  // decoded
  std::uint32_t iterations = 0;
};
// Rejects a message with a mandatory extension (m=), a missing or empty attribute, a
// nonce that does not start with `client_nonce`, or an iteration count outside 1..10^7.
std::optional<ServerFirst> parse_server_first(const std::string& message,
                                              const std::string& client_nonce);

// Hi(password, salt, i) = PBKDF2-HMAC-SHA-1 with a 20-byte output.
std::string salted_password(const std::string& password, const std::string& salt,
                            std::uint32_t iterations);

struct Final {
  std::string client_final_message;  // c=...,r=...,p=...
  std::string server_signature;      // raw 20 bytes the server must prove
};
// auth_message = client-first-message-bare + "," + server-first-message + "," +
// client-final-message-without-proof (RFC 5802 §3).
Final client_final(const std::string& salted, const std::string& gs2_header,
                   const std::string& client_first_bare, const std::string& server_first,
                   const std::string& combined_nonce);

// The server-final-message "v=base64(ServerSignature)" matches `expected` (constant time).
bool verify_server_final(const std::string& message, const std::string& expected);

// A fresh client nonce: 24 random bytes, base64 (no ',').
std::string make_nonce();

// "saslname" escaping of RFC 5802 §5.1 (',' -> =2C, '=' -> =3D).
std::string escape_saslname(const std::string& name);

}  // namespace scram
}  // namespace rpsync::client
