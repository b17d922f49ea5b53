// The whole public API of sluice in one include.
#pragma once

#include "sluice/amap.hpp"
#include "sluice/batch_loader.hpp"
#include "sluice/errors.hpp"
#include "sluice/gcra.hpp"
#include "sluice/limiter.hpp"
#include "sluice/offload.hpp"
#include "sluice/options.hpp"
#include "sluice/outcome.hpp"
#include "sluice/process.hpp"
#include "sluice/progress.hpp"
#include "sluice/rate_limiter.hpp"
#include "sluice/run.hpp"
#include "sluice/run_bounded.hpp"
#include "sluice/stream.hpp"
#include "sluice/task_scope.hpp"
#include "sluice/when_all.hpp"
