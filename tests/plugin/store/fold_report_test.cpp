// SPDX-License-Identifier: MIT
// The SQLite presence log is folded exactly when it holds more than three times as many
// presence mutations as the base has rows (and more than compact_min_log), and every fold
// is reported to StoreOptions::on_fold with what it read and wrote.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/store/store.h"
#include "tests/plugin/store/backends.h"

namespace rpsync::store::testing {
namespace {

// `n` presence mutations on jids c<first>..c<first+n-1>, one write() each, then a flush.
void write_presence(Store& s, int first, int n, bool erase = false) {
  for (int i = first; i < first + n; ++i) {
    const std::string jid = "c" + std::to_string(i) + "@x/r";
    core::Batch b;
    if (erase)
      b.push_back(core::EraseResource{jid});
    else
      b.push_back(core::PutResource{jid, {}});
    ASSERT_TRUE(s.write(b).ok());
  }
  ASSERT_TRUE(s.flush().ok());
}

TEST(SqliteFoldReport, FoldsPastTheThresholdAndReportsIt) {
  TempDir dir;
  StoreOptions o;
  o.synchronous_full = false;
  o.compact_min_log = 100;
  std::vector<FoldReport> folds;
  o.on_fold = [&folds](const FoldReport& f) { folds.push_back(f); };
  auto s = open_store("sqlite:" + (dir.path() / "f.db").string(), o);
  ASSERT_TRUE(s.ok());
  Store& store = *s.value();
  write_presence(store, 0, 100);  // 100 in the log, none in the base: at the minimum
  EXPECT_TRUE(folds.empty());
  write_presence(store, 0, 1);  // one more (an update of c0): past it
  ASSERT_EQ(folds.size(), 1u);
  EXPECT_TRUE(folds[0].ok);
  EXPECT_EQ(folds[0].log_records, 101u);
  EXPECT_EQ(folds[0].rows, 100u);
  EXPECT_EQ(folds[0].base_rows, 100u);
  EXPECT_GE(folds[0].ms, 0);

  // Base 100: the next fold waits for more than 300 records; erasures count too.
  write_presence(store, 100, 200);
  write_presence(store, 0, 100, /*erase=*/true);
  EXPECT_EQ(folds.size(), 1u);
  write_presence(store, 300, 1);
  ASSERT_EQ(folds.size(), 2u);
  EXPECT_EQ(folds[1].log_records, 301u);
  EXPECT_EQ(folds[1].rows, 301u);
  EXPECT_EQ(folds[1].base_rows, 201u);  // 100 erased, 201 new
  auto img = store.load();
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->resources.size(), 201u);
}

}  // namespace
}  // namespace rpsync::store::testing
