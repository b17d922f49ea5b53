// task_scope: backpressure, nesting, error policies, the body-exception rule, cancellation
// before start, the deadline, map, and per-job timeout and retry. coroexecutor's catalogue
// where it applies, and its defects as regressions.
#include <sluice/task_scope.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace sluice::test;
using sluice::error_policy;
using sluice::options;
using scope = sluice::basic_task_scope<manual_clock>;

struct boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

asio::awaitable<int> after(manual_clock::duration d, int v) {
  co_await sleep(d);
  co_return v;
}

asio::awaitable<int> fail_after(manual_clock::duration d, std::string what) {
  co_await sleep(d);
  throw boom(what);
}

template <class Body>
auto in_scope(options opts, Body body, manual_clock::duration deadline = {}) {
  return sluice::with_scope<manual_clock>(opts, std::move(body), deadline);
}

TEST(TaskScope, JobsCompleteAndTheirResultsAreAwaitable) {
  auto r = run_virtual(in_scope({.max_at_once = 4}, [](scope& s) -> asio::awaitable<int> {
    auto a = co_await s.submit(after, 10ms, 1);
    auto b = co_await s.submit(after, 20ms, 1);
    EXPECT_FALSE(a.done());
    const int sum = co_await a.result() + co_await b.result();
    EXPECT_TRUE(a.done() && b.done());
    EXPECT_EQ(a.id(), 0u);
    EXPECT_EQ(b.id(), 1u);
    co_return sum;
  }));
  EXPECT_EQ(r, 2);
  EXPECT_EQ(vnow(), 20ms);
}

TEST(TaskScope, SubmitWaitsAtCapacity) {
  // A producer of 10 jobs of 10 ms with capacity 3: it is let through 3 at a time.
  std::vector<manual_clock::duration> submitted;
  in_flight f;
  run_virtual(in_scope({.max_at_once = 3}, [&](scope& s) -> asio::awaitable<void> {
    for (int i = 0; i < 10; ++i) {
      co_await s.submit([&f]() -> asio::awaitable<void> {
        in_flight::guard g(f);
        co_await sleep(10ms);
      });
      submitted.push_back(vnow());
    }
  }));
  EXPECT_EQ(f.peak, 3);
  const std::vector<manual_clock::duration> expected{0ms,  0ms,  0ms,  10ms, 10ms,
                                                     10ms, 20ms, 20ms, 20ms, 30ms};
  EXPECT_EQ(submitted, expected);
  EXPECT_EQ(vnow(), 40ms);
}

TEST(TaskScope, ProducersSharingAFullScopeAllGetThroughWithinCapacity) {
  // Three producers of jobs that end at once or after a while: the places freed while ready
  // jobs wait for a worker go to the waiting producers together, never beyond capacity.
  int submitted = 0, finished = 0, producing_jobs = 0, most_held = 0;
  run_virtual(in_scope({.max_at_once = 4}, [&](scope& s) -> asio::awaitable<void> {
    auto job = [&finished](int i) -> asio::awaitable<void> {
      if (i % 3 == 0) co_await sleep(1ms);
      ++finished;
    };
    auto produce = [&](int base) -> asio::awaitable<void> {
      for (int i = 0; i < 30; ++i) {
        co_await s.submit(job, base + i);
        ++submitted;
        // Places held: the jobs not finished and the producers that are jobs themselves.
        most_held = std::max(most_held, submitted - finished + producing_jobs);
      }
    };
    auto producer_job = [&](int base) -> asio::awaitable<void> {
      ++producing_jobs;
      co_await produce(base);
      --producing_jobs;
    };
    auto a = s.spawn(producer_job, 0);
    auto b = s.spawn(producer_job, 100);
    co_await produce(200);
    co_await a.result();
    co_await b.result();
  }));
  EXPECT_EQ(submitted, 90);
  EXPECT_EQ(finished, 90);
  EXPECT_EQ(most_held, 4);
}

TEST(TaskScope, APlaceFreedWhileAJobWaitsForItsWorkerReachesTheWaitingProducer) {
  // Capacity 3 with two long jobs: the producer cancels one of them (its end is queued),
  // submits a third job (its worker's wake-up is queued after that end) and waits to submit
  // a fourth. The cancelled job's place frees while the third job waits for its worker; it
  // must reach the producer when that worker starts, not when a long job ends.
  manual_clock::duration fourth_in = -1ms;
  run_virtual(in_scope({.max_at_once = 3}, [&](scope& s) -> asio::awaitable<void> {
    auto long_job = []() -> asio::awaitable<void> { co_await sleep(1s); };
    co_await s.submit(long_job);
    auto short_lived = co_await s.submit(long_job);
    co_await asio::post(asio::use_awaitable);  // both are running
    short_lived.cancel();
    co_await s.submit(long_job);
    co_await s.submit(long_job);
    fourth_in = vnow();
  }));
  EXPECT_EQ(fourth_in, 0ms);
  EXPECT_EQ(vnow(), 1s);
}

TEST(TaskScope, SubmitTakesAnyCompletionToken) {
  // co_await awaits the operation itself; with use_awaitable it is an awaitable, with
  // deferred a deferred operation; a callback gets the handle, or the error and an empty
  // handle once the scope is closed.
  int from_callback = 0;
  std::exception_ptr closed;
  run_virtual(in_scope({.max_at_once = 2}, [&](scope& s) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto a = co_await s.submit(after, 10ms, 1)(asio::use_awaitable);
    std::optional<sluice::job<int>> b;
    s.submit(after, 20ms, 2)(asio::bind_executor(ex, [&](std::exception_ptr e, sluice::job<int> h) {
      EXPECT_FALSE(e);
      b = h;
    }));
    co_await asio::post(asio::use_awaitable);
    EXPECT_TRUE(b.has_value());
    auto c = co_await s.submit(after, 5ms, 4)(asio::deferred);
    from_callback = co_await a.result() + co_await b->result() + co_await c.result();
    s.cancel();
    s.submit(after, 1ms, 3)(asio::bind_executor(
        ex, [&](std::exception_ptr e, sluice::job<int>) { closed = std::move(e); }));
    co_await asio::post(asio::use_awaitable);
  }));
  EXPECT_EQ(from_callback, 7);
  ASSERT_TRUE(closed);
  EXPECT_THROW(std::rethrow_exception(closed), sluice::scope_closed);
}

TEST(TaskScope, AProducerThatNeverWaitsDoesNotExhaustTheStack) {
  // With free places, an awaited submit goes on without suspending the producer, and one
  // launched with another token (use_awaitable) resumes the producer inside the previous
  // one's completion. 100,000 of each in a row, never waiting for a place: the first kind
  // never nests, the second only a few levels deep (the rest wait for the stack to unwind;
  // without the bound it overflows the stack). Neither gives the workers a turn.
  constexpr int n = 100'000;
  int ran = 0;
  run_virtual(in_scope({.max_at_once = 2 * n}, [&](scope& s) -> asio::awaitable<void> {
    auto job = [&ran]() -> asio::awaitable<void> {
      ++ran;
      co_return;
    };
    for (int i = 0; i < n; ++i) co_await s.submit(job);
    for (int i = 0; i < n; ++i) co_await s.submit(job)(asio::use_awaitable);
    EXPECT_EQ(ran, 0);
  }));
  EXPECT_EQ(ran, 2 * n);
}

TEST(TaskScope, ASubmitWhoseJobCannotBeMadeTakesNoPlace) {
  // The function is moved into the job when the submit completes; if that throws, the
  // submitter gets the exception and nothing is submitted: no id, no count, and the one place
  // stays free for the next submit.
  struct fragile {
    bool* armed;
    explicit fragile(bool* a) : armed(a) {}
    fragile(const fragile&) = default;
    fragile(fragile&& o) : armed(o.armed) {
      if (*armed) throw boom("moved");
    }
    asio::awaitable<int> operator()() const { co_return 7; }
  };
  bool armed = false;
  bool threw = false;
  auto r = run_virtual(in_scope({.max_at_once = 1}, [&](scope& s) -> asio::awaitable<int> {
    auto op = s.submit(fragile(&armed));
    armed = true;
    try {
      (void)co_await std::move(op);
    } catch (const boom&) {
      threw = true;
    }
    armed = false;
    EXPECT_EQ(s.counters().snapshot().pulled, 0u);
    auto j = co_await s.submit(fragile(&armed));
    EXPECT_EQ(j.id(), 0u);
    co_return co_await j.result();
  }));
  EXPECT_TRUE(threw);
  EXPECT_EQ(r, 7);
}

TEST(TaskScope, JobsSubmitMoreJobs) {
  // coroexecutor's test_pass_randoms: 3 jobs and 2 producers of 3 sub-jobs each.
  int completed = 0;
  run_virtual(in_scope({.max_at_once = 20}, [&](scope& s) -> asio::awaitable<void> {
    auto leaf = [&completed](int ms) -> asio::awaitable<void> {
      co_await sleep(std::chrono::milliseconds(ms));
      ++completed;
    };
    auto producer = [&s, leaf]() -> asio::awaitable<void> {
      for (int i = 0; i < 3; ++i) co_await s.submit(leaf, 5 + i);
    };
    for (int i = 0; i < 3; ++i) co_await s.submit(leaf, 1 + i);
    co_await s.submit(producer);
    co_await s.submit(producer);
  }));
  EXPECT_EQ(completed, 9);
}

TEST(TaskScope, SpawnFansOutWithoutWaitingForItsOwnPlace) {
  // Capacity 1, a job that fans out into its own scope: submit would wait for the job
  // itself; spawn queues the children, which run after it.
  std::vector<int> order;
  run_virtual(in_scope({.max_at_once = 1}, [&](scope& s) -> asio::awaitable<void> {
    co_await s.submit([&]() -> asio::awaitable<void> {
      for (int i = 1; i <= 3; ++i)
        s.spawn([&order, i]() -> asio::awaitable<void> {
          co_await sleep(1ms);
          order.push_back(i);
        });
      order.push_back(0);
      co_return;
    });
  }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(vnow(), 3ms);
}

TEST(TaskScope, FailFastCancelsTheOthersAndRethrowsTheFirstFailure) {
  int cancelled = 0;
  int short_done = 0;
  EXPECT_THROW(
      run_virtual(in_scope({.max_at_once = 10},
                           [&](scope& s) -> asio::awaitable<void> {
                             co_await s.submit([&]() -> asio::awaitable<void> {
                               co_await sleep(5ms);
                               ++short_done;
                             });
                             co_await s.submit(sleep_counting_cancel, 1, 1s, std::ref(cancelled));
                             co_await s.submit(fail_after, 10ms, "oh noes");
                             co_await s.submit(sleep_counting_cancel, 2, 1s, std::ref(cancelled));
                           })),
      boom);
  EXPECT_EQ(short_done, 1);
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(vnow(), 10ms);
}

TEST(TaskScope, ADroppedHandlesFailureIsNotLost) {
  // coroexecutor loses it through its WeakSet when the job ends before the exit looks.
  EXPECT_THROW(run_virtual(in_scope({.max_at_once = 2},
                                    [](scope& s) -> asio::awaitable<void> {
                                      (void)co_await s.submit(fail_after, 0ms, "dropped");
                                      co_await sleep(10ms);
                                    })),
               boom);
}

TEST(TaskScope, KeepGoingRunsEverythingAndListsEveryFailure) {
  int ok = 0;
  run_virtual(in_scope({.max_at_once = 2, .errors = error_policy::keep_going},
                       [&](scope& s) -> asio::awaitable<void> {
                         for (int i = 0; i < 6; ++i) {
                           if (i % 3 == 1)
                             co_await s.submit(fail_after, 1ms, "job " + std::to_string(i));
                           else
                             co_await s.submit([&]() -> asio::awaitable<void> {
                               co_await sleep(2ms);
                               ++ok;
                             });
                         }
                         co_await s.join();  // returns: keep_going
                         std::vector<std::size_t> ids;
                         for (const auto& e : s.errors()) ids.push_back(e.index);
                         EXPECT_EQ(ids, (std::vector<std::size_t>{1, 4}));
                         EXPECT_EQ(sluice::describe(s.errors()[0].error), "job 1");
                       }));
  EXPECT_EQ(ok, 4);
}

TEST(TaskScope, HaltSoonLetsRunningJobsFinishAndClosesTheScope) {
  int finished = 0;
  bool closed = false;
  try {
    run_virtual(in_scope({.max_at_once = 3,
                          .errors = error_policy::halt,
                          .halt = sluice::halt_policy::parse("soon,fail=1")},
                         [&](scope& s) -> asio::awaitable<void> {
                           co_await s.submit(fail_after, 1ms, "first");
                           for (int i = 0; i < 10; ++i) {
                             try {
                               co_await s.submit([&]() -> asio::awaitable<void> {
                                 co_await sleep(5ms);
                                 ++finished;
                               });
                             } catch (const sluice::scope_closed&) {
                               closed = true;
                               throw;
                             }
                           }
                         }));
    ADD_FAILURE() << "no error";
  } catch (const sluice::task_errors& e) {
    EXPECT_NE(std::string(e.what()).find("halted (soon,fail=1)"), std::string::npos);
    EXPECT_EQ(e.errors().size(), 1u);
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ(finished, 2);  // the two running when the first failed; nothing started after
}

TEST(TaskScope, HaltNowOnSuccessCancelsTheRestAndEndsNormally) {
  int cancelled = 0;
  run_virtual(in_scope({.max_at_once = 5,
                        .errors = error_policy::halt,
                        .halt = sluice::halt_policy::parse("now,success=1")},
                       [&](scope& s) -> asio::awaitable<void> {
                         for (int i = 0; i < 4; ++i)
                           co_await s.submit(sleep_counting_cancel, i,
                                             std::chrono::milliseconds(10 * (i + 1)),
                                             std::ref(cancelled));
                       }));
  EXPECT_EQ(cancelled, 3);
  EXPECT_EQ(vnow(), 10ms);
}

TEST(TaskScope, TheBodysExceptionWinsAndJobFailuresAreKept) {
  int cancelled = 0;
  run_virtual([&]() -> asio::awaitable<void> {
    scope s(co_await asio::this_coro::executor, {.max_at_once = 4});
    try {
      co_await s.run([&](scope& s) -> asio::awaitable<void> {
        co_await s.submit(fail_after, 1ms, "job failure");
        co_await s.submit(sleep_counting_cancel, 1, 1s, std::ref(cancelled));
        co_await sleep(2ms);
        throw std::out_of_range("body2");
      });
      ADD_FAILURE() << "no error";
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "body2");
    }
    EXPECT_EQ(vnow(), 2ms);  // the long job was cancelled, not awaited to its end
  }());
  EXPECT_EQ(cancelled, 1);
}

TEST(TaskScope, BodyExceptionWithKeepGoingKeepsTheSuppressedFailures) {
  run_virtual([&]() -> asio::awaitable<void> {
    scope s(co_await asio::this_coro::executor,
            {.max_at_once = 4, .errors = error_policy::keep_going});
    EXPECT_THROW(co_await s.run([&](scope& s) -> asio::awaitable<void> {
      co_await s.submit(fail_after, 1ms, "suppressed");
      co_await sleep(2ms);
      throw std::out_of_range("body");
    }),
                 std::out_of_range);
    EXPECT_EQ(s.errors().size(), 1u);
    if (!s.errors().empty()) {
      EXPECT_EQ(sluice::describe(s.errors()[0].error), "suppressed");
    }
  }());
}

TEST(TaskScope, AJobCancelledBeforeItStartsGivesItsPlaceBack) {
  // coroexecutor leaks the token: with capacity 1 the next submit would hang.
  run_virtual(in_scope({.max_at_once = 1}, [](scope& s) -> asio::awaitable<void> {
    auto running = co_await s.submit(after, 10ms, 1);
    auto queued = s.spawn(after, 10ms, 2);  // no place: waits behind `running`
    queued.cancel();
    EXPECT_EQ(co_await running.result(), 1);
    EXPECT_THROW(co_await queued.result(), boost::system::system_error);
    auto next = co_await s.submit(after, 1ms, 3);  // the place came back
    EXPECT_EQ(co_await next.result(), 3);
    EXPECT_EQ(vnow(), 11ms);
  }));
}

TEST(TaskScope, AJobCancelledThroughItsHandleIsNotAFailureOfTheScope) {
  run_virtual(in_scope({.max_at_once = 2}, [](scope& s) -> asio::awaitable<void> {
    auto victim = co_await s.submit(after, 1s, 1);
    auto other = co_await s.submit(after, 20ms, 2);
    co_await sleep(5ms);
    victim.cancel();
    bool aborted = false;
    try {
      co_await victim.result();
    } catch (const boost::system::system_error& e) {
      aborted = e.code() == asio::error::operation_aborted;
    }
    EXPECT_TRUE(aborted);
    EXPECT_EQ(co_await other.result(), 2);  // the scope went on
  }));
}

TEST(TaskScope, CapacityZeroIsAnErrorNotAHang) {
  EXPECT_THROW(
      run_virtual(in_scope({.max_at_once = 0}, [](scope&) -> asio::awaitable<void> { co_return; })),
      std::invalid_argument);
}

TEST(TaskScope, TheDeadlineCancelsEverythingAndJoinReportsATimeout) {
  int cancelled = 0;
  bool short_done = false;
  try {
    run_virtual(in_scope(
        {.max_at_once = 4},
        [&](scope& s) -> asio::awaitable<void> {
          co_await s.submit([&]() -> asio::awaitable<void> {
            co_await sleep(10ms);
            short_done = true;
          });
          co_await s.submit(sleep_counting_cancel, 1, 5s, std::ref(cancelled));
        },
        50ms));
    ADD_FAILURE() << "no timeout";
  } catch (const sluice::timeout_error& e) {
    EXPECT_EQ(e.code(), asio::error::timed_out);
    EXPECT_STREQ(e.what(), "task_scope deadline of 50 ms passed");
  }
  EXPECT_TRUE(short_done);
  EXPECT_EQ(cancelled, 1);
  EXPECT_EQ(vnow(), 50ms);
}

TEST(TaskScope, SubmitAfterCancelThrowsScopeClosed) {
  run_virtual([]() -> asio::awaitable<void> {
    scope s(co_await asio::this_coro::executor, {.max_at_once = 2});
    s.cancel();
    EXPECT_THROW(co_await s.submit(after, 1ms, 1), sluice::scope_closed);
  }());
}

TEST(TaskScope, CancellingTheCallerCancelsTheJobsAndWaitsForThem) {
  int cancelled = 0;
  bool short_done = false;
  bool aborted = false;
  run_virtual([&]() -> asio::awaitable<void> {
    asio::cancellation_signal sig;
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex,
                   in_scope({.max_at_once = 4},
                            [&](scope& s) -> asio::awaitable<void> {
                              co_await s.submit([&]() -> asio::awaitable<void> {
                                co_await sleep(1ms);
                                short_done = true;
                              });
                              co_await s.submit(sleep_counting_cancel, 1, 1s, std::ref(cancelled));
                            }),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr e) { aborted = is_cancellation(e); }));
    co_await sleep(5ms);
    sig.emit(asio::cancellation_type::terminal);
    co_await sleep(1ms);
  }());
  EXPECT_TRUE(short_done);
  EXPECT_EQ(cancelled, 1);
  EXPECT_TRUE(aborted);
}

TEST(TaskScope, CancellingTheCallerWhileTheBodyWaitsForAPlaceWaitsForTheRunningJobs) {
  int cancelled = 0;
  int cancelled_when_done = -1;
  run_virtual([&]() -> asio::awaitable<void> {
    asio::cancellation_signal sig;
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex,
                   in_scope({.max_at_once = 1},
                            [&](scope& s) -> asio::awaitable<void> {
                              co_await s.submit(sleep_counting_cancel, 1, 1s, std::ref(cancelled));
                              co_await s.submit(sleep_counting_cancel, 2, 1s, std::ref(cancelled));
                            }),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr) { cancelled_when_done = cancelled; }));
    co_await sleep(5ms);
    sig.emit(asio::cancellation_type::terminal);
    co_await sleep(1ms);
  }());
  EXPECT_EQ(cancelled, 1);
  EXPECT_EQ(cancelled_when_done, 1);  // the running job ended before the scope did
}

TEST(TaskScope, MapYieldsInInputOrder) {
  auto r =
      run_virtual(in_scope({.max_at_once = 3}, [](scope& s) -> asio::awaitable<std::vector<int>> {
        const std::vector<int> ms{30, 10, 20, 5, 1};
        auto st = s.map([](int m) { return after(std::chrono::milliseconds(m), m); }, ms);
        std::vector<int> out;
        while (auto v = co_await st.next()) out.push_back(*v);
        co_return out;
      }));
  EXPECT_EQ(r, (std::vector<int>{30, 10, 20, 5, 1}));
}

TEST(TaskScope, MapKeepsTheResultsBeforeAFailure) {
  std::vector<int> out;
  EXPECT_THROW(run_virtual(in_scope({.max_at_once = 2},
                                    [&](scope& s) -> asio::awaitable<void> {
                                      const std::vector<int> ms{10, 20, -1, 40};
                                      auto st = s.map(
                                          [](int m) {
                                            return m < 0 ? fail_after(1ms, "bad")
                                                         : after(std::chrono::milliseconds(m), m);
                                          },
                                          ms);
                                      while (auto v = co_await st.next()) out.push_back(*v);
                                    })),
               boom);
  EXPECT_EQ(out, (std::vector<int>{10}));  // 20 was cancelled by the fail_fast stop at 11 ms
}

TEST(TaskScope, JobsHaveTimeoutsAndRetries) {
  run_virtual(in_scope({.max_at_once = 2,
                        .errors = error_policy::keep_going,
                        .timeout = 50ms,
                        .retry = {.attempts = 3, .jitter = [] { return 0.0; }}},
                       [](scope& s) -> asio::awaitable<void> {
                         int calls = 0;
                         auto flaky = co_await s.submit([&]() -> asio::awaitable<int> {
                           co_await sleep(++calls < 3 ? 1s : 10ms);
                           co_return calls;
                         });
                         EXPECT_EQ(co_await flaky.result(), 3);
                         EXPECT_EQ(flaky.attempts(), 3u);
                         EXPECT_EQ(vnow(), 110ms);
                         auto slow = co_await s.submit(after, 1s, 0);
                         EXPECT_THROW(co_await slow.result(), sluice::timeout_error);
                         EXPECT_EQ(slow.attempts(), 3u);
                         co_await s.join();
                         EXPECT_EQ(s.errors().size(), 1u);
                         if (!s.errors().empty()) {
                           EXPECT_EQ(s.errors()[0].attempts, 3u);
                         }
                       }));
}

TEST(TaskScope, RateLimitsJobStartsAndCountsProgress) {
  std::vector<manual_clock::duration> starts;
  sluice::progress::counts final_counts;
  run_virtual(
      in_scope({.max_at_once = 8, .max_per_second = 10}, [&](scope& s) -> asio::awaitable<void> {
        for (int i = 0; i < 4; ++i)
          co_await s.submit([&]() -> asio::awaitable<void> {
            starts.push_back(vnow());
            co_return;
          });
        co_await s.join();
        final_counts = s.counters().snapshot();
      }));
  EXPECT_EQ(starts, (std::vector<manual_clock::duration>{0ms, 100ms, 200ms, 300ms}));
  EXPECT_EQ(final_counts.pulled, 4u);
  EXPECT_EQ(final_counts.succeeded, 4u);
  EXPECT_EQ(final_counts.running, 0u);
}

}  // namespace
