// SPDX-License-Identifier: MIT
#include "client_ext/scram.h"

#include <gloox/base64.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <charconv>
#include <cstring>

namespace rpsync::client {

std::optional<std::string> MemoryScramCache::load_salted_password(const std::string& account,
                                                                  const std::string& salt,
                                                                  std::uint32_t iterations) {
  const auto it = entries_.find(account);
  if (it == entries_.end() || it->second.salt != salt || it->second.iterations != iterations) {
    return std::nullopt;
  }
  return it->second.salted_password;
}

void MemoryScramCache::save_salted_password(const std::string& account, const std::string& salt,
                                            std::uint32_t iterations,
                                            const std::string& salted_password) {
  entries_[account] = Entry{salt, iterations, salted_password};
}

void MemoryScramCache::erase_salted_password(const std::string& account) {
  entries_.erase(account);
}

namespace scram {
namespace {

std::string hmac_sha1(const std::string& key, const std::string& data) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> out{};
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string sha1(const std::string& data) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> out{};
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

std::string xor_bytes(const std::string& a, const std::string& b) {
  std::string r(a);
  for (std::size_t i = 0; i < r.size() && i < b.size(); ++i) r[i] = static_cast<char>(a[i] ^ b[i]);
  return r;
}

// Splits "k=v,k=v" into the first value of each single-letter key; false if malformed.
bool attributes(const std::string& message, std::map<char, std::string>* out) {
  std::size_t pos = 0;
  while (pos <= message.size()) {
    std::size_t end = message.find(',', pos);
    if (end == std::string::npos) end = message.size();
    const std::string part = message.substr(pos, end - pos);
    if (part.size() < 2 || part[1] != '=') return false;
    out->emplace(part[0], part.substr(2));
    pos = end + 1;
  }
  return true;
}

}  // namespace

std::optional<ServerFirst> parse_server_first(const std::string& message,
                                              const std::string& client_nonce) {
  std::map<char, std::string> a;
  if (!attributes(message, &a) || a.count('m') != 0) return std::nullopt;
  const auto r = a.find('r');
  const auto s = a.find('s');
  const auto i = a.find('i');
  if (r == a.end() || s == a.end() || i == a.end()) return std::nullopt;
  ServerFirst out;
  out.nonce = r->second;
  if (out.nonce.size() <= client_nonce.size() ||
      out.nonce.compare(0, client_nonce.size(), client_nonce) != 0) {
    return std::nullopt;
  }
  out.salt = gloox::Base64::decode64(s->second);
  if (out.salt.empty()) return std::nullopt;
  const std::string& n = i->second;
  const auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), out.iterations);
  if (ec != std::errc() || ptr != n.data() + n.size() || out.iterations == 0 ||
      out.iterations > 10'000'000) {
    return std::nullopt;
  }
  return out;
}

std::string salted_password(const std::string& password, const std::string& salt,
                            std::uint32_t iterations) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> out{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha1(),
                    static_cast<int>(out.size()), out.data());
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

Final client_final(const std::string& salted, const std::string& gs2_header,
                   const std::string& client_first_bare, const std::string& server_first,
                   const std::string& combined_nonce) {
  const std::string without_proof =
      "c=" + gloox::Base64::encode64(gs2_header) + ",r=" + combined_nonce;
  const std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
  const std::string client_key = hmac_sha1(salted, "Client Key");
  const std::string client_signature = hmac_sha1(sha1(client_key), auth_message);
  const std::string proof = xor_bytes(client_key, client_signature);
  const std::string server_key = hmac_sha1(salted, "Server Key");
  return Final{without_proof + ",p=" + gloox::Base64::encode64(proof),
               hmac_sha1(server_key, auth_message)};
}

bool verify_server_final(const std::string& message, const std::string& expected) {
  std::map<char, std::string> a;
  if (!attributes(message, &a) || a.count('e') != 0) return false;
  const auto v = a.find('v');
  if (v == a.end()) return false;
  const std::string got = gloox::Base64::decode64(v->second);
  return got.size() == expected.size() && !expected.empty() &&
         CRYPTO_memcmp(got.data(), expected.data(), got.size()) == 0;
}

std::string make_nonce() {
  std::array<unsigned char, 24> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    // No entropy source: refuse to produce a predictable nonce.
    return {};
  }
  return gloox::Base64::encode64(
      std::string(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

std::string escape_saslname(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace scram
}  // namespace rpsync::client
