// File: libs/rpc/testing/echo_service.h
// -----------------------------------------------------------------------------
// Test-only (crm::rpc_testing): crm.testing.v1.EchoService served the way a real service would be, for
// libs/rpc's tests and the crm-echo-probe binary of tests/rpc.
//
//   Echo    answers text, request id, caller (or why there is none) and its effective deadline;
//           can forward to another EchoService with crm::rpc::PrepareClientContext.
//   Put     like Append, but deliberately NOT written with crm::rpc::Handle: shows what the interceptor
//           alone does for a call it turns away (the body runs, the client still gets the rejection).
//   Append  counts attempts per key.
//   Slow    sends STARTED, waits until ReleaseSlowCalls() (or cancellation), sends DONE.
// Echo, Put and Append fail the first `unavailable_attempts` calls per key with UNAVAILABLE.
//
// Example:
//   crm::rpc::testing::EchoServiceImpl echo;
//   server.AddService(&echo);
//   ... start a Slow call ...
//   ASSERT_TRUE(echo.WaitForSlowCalls(1, absl::Seconds(5)));
//   echo.ReleaseSlowCalls();
#ifndef CRM_LIBS_RPC_TESTING_ECHO_SERVICE_H_
#define CRM_LIBS_RPC_TESTING_ECHO_SERVICE_H_

#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/testing/v1/echo.grpc.pb.h"

namespace crm::rpc::testing {

class EchoServiceImpl final : public crm::testing::v1::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* ctx, const crm::testing::v1::EchoRequest* request,
                    crm::testing::v1::EchoResponse* response) override;
  grpc::Status Put(grpc::ServerContext* ctx, const crm::testing::v1::PutRequest* request,
                   crm::testing::v1::PutResponse* response) override;
  grpc::Status Append(grpc::ServerContext* ctx, const crm::testing::v1::AppendRequest* request,
                      crm::testing::v1::AppendResponse* response) override;
  grpc::Status Slow(grpc::ServerContext* ctx, const crm::testing::v1::SlowRequest* request,
                    grpc::ServerWriter<crm::testing::v1::SlowResponse>* writer) override;

  // Lets every Slow call, running or still to come, finish. Thread-safe; callable from any thread.
  void ReleaseSlowCalls();

  // Returns true once `n` Slow calls are running (have sent STARTED and not finished); false if that
  // does not happen within `timeout`.
  bool WaitForSlowCalls(int n, absl::Duration timeout);

  // How many times the body of `method` ("Echo", "Put", "Append", "Slow") ran.
  int BodyRuns(std::string_view method) const;

 private:
  // Counts an attempt for (method, key); returns the count, this one included.
  int Attempt(std::string_view method, std::string_view key);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> attempts_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> runs_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  int slow_running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crm::rpc::testing

#endif  // CRM_LIBS_RPC_TESTING_ECHO_SERVICE_H_
