// SPDX-License-Identifier: MIT
// SCRAM-SHA-1 client computations against RFC 5802 §5's example exchange.
#include "client_ext/scram.h"

#include <gloox/base64.h>
#include <gtest/gtest.h>

namespace rpsync::client::scram {
namespace {

// RFC 5802 §5: user "user", password "pencil".
const std::string kClientNonce = "fyko+d2lbbFgONRv9qkxdawL";
const std::string kClientFirstBare = "n=user,r=" + kClientNonce;
const std::string kServerFirst =
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
const std::string kClientFinal =
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
const std::string kServerFinal = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";

TEST(Scram, Rfc5802ExampleProofAndServerSignature) {
  const auto first = parse_server_first(kServerFirst, kClientNonce);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->iterations, 4096u);
  EXPECT_EQ(first->nonce, "fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j");
  const std::string salted = salted_password("pencil", first->salt, first->iterations);
  EXPECT_EQ(salted.size(), 20u);
  const Final f = client_final(salted, "n,,", kClientFirstBare, kServerFirst, first->nonce);
  EXPECT_EQ(f.client_final_message, kClientFinal);
  EXPECT_TRUE(verify_server_final(kServerFinal, f.server_signature));
}

TEST(Scram, WrongKeyGivesAnotherProofAndServerSignature) {
  const auto first = parse_server_first(kServerFirst, kClientNonce);
  ASSERT_TRUE(first.has_value());
  const std::string wrong = salted_password("pencil2", first->salt, first->iterations);
  const Final f = client_final(wrong, "n,,", kClientFirstBare, kServerFirst, first->nonce);
  EXPECT_NE(f.client_final_message, kClientFinal);
  EXPECT_FALSE(verify_server_final(kServerFinal, f.server_signature));
}

TEST(Scram, ServerFinalMismatchOrErrorIsRejected) {
  const auto first = parse_server_first(kServerFirst, kClientNonce);
  ASSERT_TRUE(first.has_value());
  const Final f = client_final(salted_password("pencil", first->salt, 4096), "n,,",
                               kClientFirstBare, kServerFirst, first->nonce);
  EXPECT_FALSE(verify_server_final("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", f.server_signature));
  EXPECT_FALSE(verify_server_final("e=invalid-proof", f.server_signature));
  EXPECT_FALSE(verify_server_final("", f.server_signature));
  EXPECT_FALSE(verify_server_final(kServerFinal, ""));
}

TEST(Scram, ServerFirstIsValidated) {
  // Nonce must extend ours.
  EXPECT_FALSE(parse_server_first("r=other3rfc,s=QSXCR+Q6sek8bf92,i=4096", kClientNonce));
  EXPECT_FALSE(
      parse_server_first("r=" + kClientNonce + ",s=QSXCR+Q6sek8bf92,i=4096", kClientNonce));
  // Mandatory extension, missing salt or count, bad count.
  EXPECT_FALSE(parse_server_first("m=x," + kServerFirst, kClientNonce));
  EXPECT_FALSE(parse_server_first("r=" + kClientNonce + "x,i=4096", kClientNonce));
  EXPECT_FALSE(parse_server_first("r=" + kClientNonce + "x,s=QSXCR+Q6sek8bf92", kClientNonce));
  EXPECT_FALSE(parse_server_first("r=" + kClientNonce + "x,s=QSXCR+Q6sek8bf92,i=0", kClientNonce));
  EXPECT_FALSE(
      parse_server_first("r=" + kClientNonce + "x,s=QSXCR+Q6sek8bf92,i=12a", kClientNonce));
  EXPECT_FALSE(parse_server_first("garbage", kClientNonce));
}

TEST(Scram, NonceAndSaslname) {
  const std::string a = make_nonce();
  const std::string b = make_nonce();
  EXPECT_GE(a.size(), 24u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find(','), std::string::npos);
  EXPECT_EQ(escape_saslname("a,b=c"), "a=2Cb=3Dc");
}

TEST(MemoryScramCache, KeyedByAccountSaltAndIterations) {
  MemoryScramCache c;
  EXPECT_FALSE(c.load_salted_password("alice@x", "salt", 4096));
  c.save_salted_password("alice@x", "salt", 4096, "key1");
  EXPECT_EQ(c.load_salted_password("alice@x", "salt", 4096), "key1");
  EXPECT_FALSE(c.load_salted_password("alice@x", "salt2", 4096));
  EXPECT_FALSE(c.load_salted_password("alice@x", "salt", 4097));
  EXPECT_FALSE(c.load_salted_password("bob@x", "salt", 4096));
  c.save_salted_password("alice@x", "salt2", 4096, "key2");  // a new salt supersedes
  EXPECT_FALSE(c.load_salted_password("alice@x", "salt", 4096));
  c.erase_salted_password("alice@x");
  EXPECT_FALSE(c.load_salted_password("alice@x", "salt2", 4096));
}

}  // namespace
}  // namespace rpsync::client::scram
