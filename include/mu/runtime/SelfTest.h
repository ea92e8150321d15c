//===- SelfTest.h - the kernel self-test (libmu_runtime_check) -*- C++ -*-===//
///
/// \file
/// Checks a kernel family against the reference integer arithmetic on the
/// CPU it runs on. A separate library (`mu_runtime_check`) so that an
/// executor that does not run the self-test does not carry it; `mu-run
/// --check-kernels` and the unit tests link it.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_SELFTEST_H
#define MU_RUNTIME_SELFTEST_H

#include "mu/runtime/Runtime.h"

namespace mu {
namespace rt {

/// Checks the optimized kernels of `isa` bit for bit against the reference
/// integer arithmetic (Integer.h) on this CPU, with `threads` threads; the
/// number of cases run goes to `cases`. An error names the first mismatch.
Status checkKernels(Isa isa, int threads, int &cases);

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_SELFTEST_H
