#include "services/mortgage/sql.h"

#include <atomic>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace crm::mortgage {
namespace {

std::atomic<StatementRecorder*> recorder{nullptr};

}  // namespace

std::string Params::Add(std::string value) {
  values_.push_back(std::move(value));
  return absl::StrCat("$", values_.size());
}

std::string Params::Ts(absl::Time t) {
  return absl::StrCat("('epoch'::timestamptz + ", Add(absl::StrCat(absl::ToUnixMicros(t))),
                      "::bigint * interval '1 microsecond')");
}

std::string Params::Bytes(const std::string& bytes) {
  return absl::StrCat(Add(absl::StrCat("\\x", absl::BytesToHexString(bytes))), "::bytea");
}

pqxx::result Run(pqxx::transaction_base& tx, const std::string& sql, const Params& p) {
  if (StatementRecorder* r = recorder.load(std::memory_order_acquire)) r->Add(sql, p.values());
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
}

struct StatementRecorder::State {
  absl::Mutex mu;
  std::vector<Statement> statements ABSL_GUARDED_BY(mu);
};

StatementRecorder::StatementRecorder() : state_(std::make_unique<State>()) { recorder.store(this); }
StatementRecorder::~StatementRecorder() { recorder.store(nullptr); }

std::vector<StatementRecorder::Statement> StatementRecorder::Take() {
  absl::MutexLock lock(&state_->mu);
  return std::exchange(state_->statements, {});
}

void StatementRecorder::Add(const std::string& sql, const std::vector<std::string>& params) {
  absl::MutexLock lock(&state_->mu);
  state_->statements.push_back({sql, params});
}

}  // namespace crm::mortgage
