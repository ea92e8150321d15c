//===- OpenerTest.cpp - openers stopped from another thread ---------------===//
//
// Compiles stories260k with the mu-compile that was built next to this test
// (MU_TOOLS_DIR, else the build's tools directory) and runs openers on a
// worker thread while the test thread cancels them.
//
//===----------------------------------------------------------------------===//
#include "mu/runtime/Opener.h"
#include "mu/runtime/Runtime.h"
#include "mub_generated.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

using namespace mu::rt;

namespace {
/// stories260k compiled once per test run ("" when a piece is missing).
std::string storiesArtifact() {
  static std::string path = [] {
    const char *shared = std::getenv("MU_SHARED_DIR");
    const char *tools = std::getenv("MU_TOOLS_DIR");
#ifdef MU_TOOLS_DIR_DEFAULT
    if (!tools)
      tools = MU_TOOLS_DIR_DEFAULT;
#endif
    if (!shared || !tools)
      return std::string();
    std::string ckpt = std::string(shared) + "/models/stories260k/model.safetensors";
    if (!std::ifstream(ckpt))
      return std::string();
    std::string out = ::testing::TempDir() + "opener-test-s260.mub";
    std::string cmd = std::string(tools) + "/mu-compile '" + ckpt + "' -o '" + out + "' > /dev/null";
    return std::system(cmd.c_str()) == 0 ? out : std::string();
  }();
  return path;
}

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  std::unique_ptr<Generator> gen;
  Tokenizer tok;
};

bool load(Loaded &l) {
  std::string path = storiesArtifact();
  if (path.empty())
    return false;
  Status st;
  l.model = Model::load(path, st);
  EXPECT_TRUE(l.model) << st.message;
  if (!l.model)
    return false;
  l.session = std::make_unique<Session>(*l.model, SessionOptions());
  l.gen = std::make_unique<Generator>(*l.model, *l.session);
  st = l.tok.init(l.model->fb().tokenizer());
  EXPECT_TRUE(st.ok) << st.message;
  return st.ok;
}
} // namespace

/// The worker is parked inside the callback of its 3rd token until the test
/// thread has set the flag: the opener must stop right there, report
/// "cancelled", and keep the words it had already made final.
TEST(Opener, CancelledFromAnotherThread) {
  Loaded l;
  if (!load(l))
    GTEST_SKIP() << "needs MU_SHARED_DIR/models/stories260k and MU_TOOLS_DIR/mu-compile";
  std::atomic<bool> cancel{false};
  std::mutex m;
  std::condition_variable cv;
  bool third = false, released = false;
  std::string shown;
  size_t shownWords = 0;
  OpenerOptions o;
  o.words = 1000;
  o.maxTokens = 200;
  o.stopAtSentenceEnd = false;
  o.sampling.greedy = true;
  o.cancel = &cancel;
  o.onWord = [&](const std::string &w, int index, double) {
    shown += w;
    shownWords += index >= 0;
  };
  int tokens = 0;
  o.onToken = [&](int, const std::string &) {
    if (++tokens != 3)
      return;
    std::unique_lock<std::mutex> lock(m);
    third = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  };
  OpenerResult r;
  Status st;
  std::vector<int> prompt = l.tok.encode("Once upon a time", true);
  std::thread worker([&] { st = generateOpener(*l.gen, l.tok, prompt, o, r); });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return third; });
    cancel.store(true);
    released = true;
    cv.notify_all();
  }
  worker.join();
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(r.stop, OpenerStop::Cancelled);
  EXPECT_EQ(r.sampledTokens, 3);
  // What was shown is the opener's text: nothing shown is lost.
  EXPECT_EQ(shown, r.text);
  EXPECT_EQ(r.words.size(), shownWords);

  // The same generator runs the next opener normally: a cancel leaves no
  // state behind.
  cancel.store(false);
  o.onToken = nullptr;
  o.words = 4;
  OpenerResult again;
  st = generateOpener(*l.gen, l.tok, prompt, o, again);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_NE(again.stop, OpenerStop::Cancelled);
  EXPECT_GT(again.sampledTokens, 3);
}

/// A flag set before the call stops the opener before it samples anything.
TEST(Opener, CancelledBeforeTheFirstToken) {
  Loaded l;
  if (!load(l))
    GTEST_SKIP() << "needs MU_SHARED_DIR/models/stories260k and MU_TOOLS_DIR/mu-compile";
  std::atomic<bool> cancel{true};
  OpenerOptions o;
  o.cancel = &cancel;
  OpenerResult r;
  Status st = generateOpener(*l.gen, l.tok, l.tok.encode("Once upon a time", true), o, r);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(r.stop, OpenerStop::Cancelled);
  EXPECT_EQ(r.sampledTokens, 0);
  EXPECT_TRUE(r.text.empty());
}
