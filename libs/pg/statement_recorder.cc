#include "libs/pg/statement_recorder.h"

#include <atomic>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace crm::pg {
namespace {

std::atomic<StatementRecorder*> recorder{nullptr};

}  // namespace

struct StatementRecorder::State {
  absl::Mutex mu;
  std::vector<Statement> statements ABSL_GUARDED_BY(mu);
};

StatementRecorder::StatementRecorder() : state_(std::make_unique<State>()) {
  recorder.store(this, std::memory_order_release);
}
StatementRecorder::~StatementRecorder() { recorder.store(nullptr, std::memory_order_release); }

std::vector<StatementRecorder::Statement> StatementRecorder::Take() {
  absl::MutexLock lock(&state_->mu);
  return std::exchange(state_->statements, {});
}

void StatementRecorder::Add(const std::string& sql, const std::vector<std::string>& params) {
  absl::MutexLock lock(&state_->mu);
  state_->statements.push_back({sql, params});
}

void RecordStatement(const std::string& sql, const std::vector<std::string>& params) {
  if (StatementRecorder* r = recorder.load(std::memory_order_acquire)) r->Add(sql, params);
}

}  // namespace crm::pg
