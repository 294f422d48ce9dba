// File: services/robots/actions.cc
#include "services/robots/actions.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "crm/common/v1/common.pb.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "crm/robots/v1/robots.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"

namespace crm::robots {

namespace dv1 = crm::deals::v1;
namespace rv1 = crm::robots::v1;
using crm::common::v1::Principal;

struct DealsClient::Stubs {
  explicit Stubs(const std::shared_ptr<grpc::Channel>& channel)
      : deals(dv1::DealService::NewStub(channel)),
        tasks(dv1::TaskService::NewStub(channel)),
        timeline(dv1::TimelineService::NewStub(channel)),
        pipelines(dv1::PipelineService::NewStub(channel)) {}
  std::unique_ptr<dv1::DealService::Stub> deals;
  std::unique_ptr<dv1::TaskService::Stub> tasks;
  std::unique_ptr<dv1::TimelineService::Stub> timeline;
  std::unique_ptr<dv1::PipelineService::Stub> pipelines;
};

namespace {

// What the robots service may do in deals (services/deals/access.cc, copy.cc; tasks and the timeline
// follow the deal's access).
constexpr const char* kPermissions[] = {"deals.read.all", "deals.write.all", "deals.copy"};

// Page size of ListOpenDeals (deals' maximum).
constexpr int kMaxPage = 200;

Principal RobotsPrincipal(std::string_view on_behalf_of) {
  Principal p = rpc::ServicePrincipal("robots", on_behalf_of);
  for (const char* perm : kPermissions) p.add_permissions(perm);
  return p;
}

std::string Quoted(std::string_view s) { return absl::StrCat("«", AsAbsl(s), "»"); }

// Task.Kind from the rule's lower-case name ("call", "follow_up"); "" = CUSTOM.
absl::StatusOr<dv1::Task::Kind> TaskKind(std::string_view name) {
  if (name.empty()) return dv1::Task::CUSTOM;
  dv1::Task::Kind kind = dv1::Task::KIND_UNSPECIFIED;
  if (!dv1::Task::Kind_Parse(absl::AsciiStrToUpper(AsAbsl(name)), &kind) || kind == dv1::Task::KIND_UNSPECIFIED) {
    return InvalidFieldError("create_task.kind", "expected call, meeting, email, follow_up or custom");
  }
  return kind;
}

// Deal.Priority from "A" / "b" / "PRIORITY_C"; "" = unspecified (clears it).
absl::StatusOr<dv1::Deal::Priority> ParsePriority(std::string_view text) {
  std::string s = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(AsAbsl(text)));
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  if (s.empty()) return dv1::Deal::PRIORITY_UNSPECIFIED;
  if (!absl::StartsWith(s, "PRIORITY_")) s = absl::StrCat("PRIORITY_", s);
  dv1::Deal::Priority p = dv1::Deal::PRIORITY_UNSPECIFIED;
  if (!dv1::Deal::Priority_Parse(s, &p) || p == dv1::Deal::PRIORITY_UNSPECIFIED) {
    return InvalidFieldError("set_field.value", "priority must be A, B or C");
  }
  return p;
}

// The text of a value given as a JSON string ("\"site\"") or bare (site).
std::string PlainText(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_string()) return j.get<std::string>();
  return std::string(text);
}

// The custom field value of `def` that `text` (the value in its JSON form) means; nullopt for "" (the
// field is removed).
absl::StatusOr<std::optional<dv1::FieldValue>> ParseFieldValue(const dv1::FieldDefinition& def,
                                                               std::string_view text) {
  if (absl::StripAsciiWhitespace(AsAbsl(text)).empty()) return std::nullopt;
  const nlohmann::json parsed =
      nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  nlohmann::json value;
  std::string member;
  switch (def.type()) {
    case dv1::FieldDefinition::TYPE_NUMBER:
      member = "number";
      value = parsed.is_number() ? parsed.dump() : PlainText(text);
      break;
    case dv1::FieldDefinition::TYPE_MONEY:
      member = "money";
      if (!parsed.is_object()) {
        return InvalidFieldError("set_field.value", "a money value is {\"amountMinor\": \"…\", \"currency\": \"RUB\"}");
      }
      value = parsed;
      break;
    case dv1::FieldDefinition::TYPE_DATETIME:
      member = "time";
      value = PlainText(text);
      break;
    case dv1::FieldDefinition::TYPE_BOOL:
      member = "flag";
      if (!parsed.is_boolean()) return InvalidFieldError("set_field.value", "expected true or false");
      value = parsed;
      break;
    case dv1::FieldDefinition::TYPE_MULTI_ENUM: {
      member = "options";
      nlohmann::json list = nlohmann::json::array();
      if (parsed.is_array()) {
        list = parsed;
      } else {
        for (absl::string_view part : absl::StrSplit(AsAbsl(text), ',', absl::SkipWhitespace())) {
          list.push_back(std::string(absl::StripAsciiWhitespace(part)));
        }
      }
      value = nlohmann::json{{"values", list}};
      break;
    }
    default:  // STRING, URL, USER, ENUM, DATE
      member = "text";
      value = PlainText(text);
      break;
  }
  const nlohmann::json j{{"code", def.code()}, {member, value}};
  dv1::FieldValue out;
  const auto parsed_status = google::protobuf::util::JsonStringToMessage(j.dump(), &out);
  if (!parsed_status.ok()) {
    return InvalidFieldError("set_field.value",
                             absl::StrCat("not a value of field ", Quoted(def.code()), ": ",
                                          std::string(parsed_status.message())));
  }
  return out;
}

// A value as the execution log shows it.
std::string ValueText(const dv1::FieldValue& v) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(v, &json, o);
  return json;
}

}  // namespace

DealsClient::DealsClient(std::shared_ptr<grpc::Channel> channel, const crm::auth::SigningKey* key,
                         const crm::calendar::WorkingCalendar* calendar, absl::TimeZone zone,
                         DealsClientOptions options)
    : stubs_(std::make_unique<Stubs>(channel)),
      key_(key),
      calendar_(calendar),
      zone_(zone),
      options_(options) {
  if (options_.conflict_attempts < 1) options_.conflict_attempts = 1;
}

DealsClient::~DealsClient() = default;

absl::Status DealsClient::Prepare(grpc::ClientContext& call, std::string_view on_behalf_of, int depth,
                                  std::string_view idempotency_key) const {
  rpc::PrepareClientContext(call, options_.timeout);
  const Principal principal = RobotsPrincipal(on_behalf_of);
  if (key_ == nullptr) {
    rpc::SetCaller(call, principal);
  } else {
    const std::string bytes = principal.SerializeAsString();
    const absl::Time now = options_.clock != nullptr ? options_.clock->Now() : SystemClock().Now();
    CRM_ASSIGN_OR_RETURN(std::string sig, auth::SignPrincipalBytes(bytes, *key_, now));
    call.AddMetadata(rpc::kPrincipalHeader, bytes);
    call.AddMetadata(std::string(auth::kPrincipalSigHeader), sig);
  }
  if (depth > 0) {
    call.AddMetadata(rpc::kAutomationDepthHeader, absl::StrCat(std::min(depth, rpc::kMaxAutomationDepth)));
  }
  if (!idempotency_key.empty()) call.AddMetadata(rpc::kIdempotencyKeyHeader, std::string(idempotency_key));
  return absl::OkStatus();
}

absl::StatusOr<dv1::Deal> DealsClient::GetDeal(std::string_view id) {
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, "", 0, ""));
  dv1::GetDealRequest req;
  req.set_id(std::string(id));
  dv1::Deal out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->deals->GetDeal(&call, req, &out)));
  return out;
}

absl::StatusOr<std::vector<dv1::Deal>> DealsClient::ListOpenDeals(std::string_view pipeline_id, int limit) {
  std::vector<dv1::Deal> out;
  if (limit <= 0) return out;
  dv1::ListDealsRequest req;
  req.mutable_filter()->set_pipeline_id(std::string(pipeline_id));
  req.mutable_filter()->add_statuses(dv1::Deal::STATUS_OPEN);
  req.set_page_size(std::min(limit, kMaxPage));
  while (static_cast<int>(out.size()) < limit) {
    grpc::ClientContext call;
    CRM_RETURN_IF_ERROR(Prepare(call, "", 0, ""));
    dv1::ListDealsResponse page;
    CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->deals->ListDeals(&call, req, &page)));
    for (const dv1::DealCard& card : page.deals()) {
      if (static_cast<int>(out.size()) >= limit) break;
      absl::StatusOr<dv1::Deal> deal = GetDeal(card.id());
      if (absl::IsNotFound(deal.status())) continue;  // deleted since the page was read
      if (!deal.ok()) return deal.status();
      if (deal->status() != dv1::Deal::STATUS_OPEN) continue;  // closed since the page was read
      out.push_back(*std::move(deal));
    }
    if (page.next_page_token().empty() || page.deals_size() == 0) break;
    req.set_page_token(page.next_page_token());
  }
  return out;
}

absl::StatusOr<absl::Time> DealsClient::DueTime(absl::Time now, absl::Duration due_in, bool working_time) const {
  if (!working_time) return now + due_in;
  if (calendar_ == nullptr) {
    return InvalidFieldError("create_task.working_time", "no working calendar is configured");
  }
  if (due_in > absl::ZeroDuration()) {
    absl::Duration rest;
    const int64_t days = absl::IDivDuration(due_in, absl::Hours(24), &rest);
    if (days > 0 && rest == absl::ZeroDuration() && days <= 100000) {
      return calendar_->AddWorkingDays(now, static_cast<int>(days));
    }
  }
  return calendar_->AddWorkingTime(now, due_in);
}

absl::StatusOr<std::string> DealsClient::Apply(const rv1::Action& action, const ActionContext& ctx) {
  if (ctx.deal_id.empty()) return InvalidFieldError("deal_id", "required");
  switch (action.action_case()) {
    case rv1::Action::kCreateTask:
      return CreateTask(action, ctx);
    case rv1::Action::kAddComment:
      return AddComment(action, ctx);
    case rv1::Action::kAddTag:
      return AddTag(action, ctx);
    case rv1::Action::kSetField:
      return SetField(action, ctx);
    case rv1::Action::kMoveStage:
      return MoveStage(action, ctx);
    case rv1::Action::kChangeResponsible:
      return ChangeResponsible(action, ctx);
    case rv1::Action::kCopyDeal:
      return CopyDeal(action, ctx);
    case rv1::Action::kCompleteTasks:
      return CompleteTasks(action, ctx);
    case rv1::Action::kNotify:
    case rv1::Action::kStartReport:
    case rv1::Action::kIncrementCounter:
      return absl::UnimplementedError(
          "not a deal action: notify, start_report and increment_counter are handled by robots itself");
    case rv1::Action::ACTION_NOT_SET:
      break;
  }
  return InvalidFieldError("action", "required");
}

absl::StatusOr<dv1::Deal> DealsClient::Read(std::string_view id, const ActionContext& ctx) {
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, 0, ""));
  dv1::GetDealRequest req;
  req.set_id(std::string(id));
  dv1::Deal out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->deals->GetDeal(&call, req, &out)));
  return out;
}

absl::StatusOr<dv1::Deal> DealsClient::Update(const dv1::Deal& deal, std::string_view path, const ActionContext& ctx) {
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, ctx.depth, ""));
  dv1::UpdateDealRequest req;
  *req.mutable_deal() = deal;
  req.mutable_update_mask()->add_paths(std::string(path));
  dv1::Deal out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->deals->UpdateDeal(&call, req, &out)));
  return out;
}

absl::StatusOr<std::vector<dv1::FieldDefinition>> DealsClient::FieldDefinitions(const ActionContext& ctx) {
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, 0, ""));
  dv1::ListFieldDefinitionsResponse out;
  CRM_RETURN_IF_ERROR(
      FromGrpcStatus(stubs_->pipelines->ListFieldDefinitions(&call, dv1::ListFieldDefinitionsRequest(), &out)));
  return std::vector<dv1::FieldDefinition>(out.fields().begin(), out.fields().end());
}

absl::StatusOr<std::string> DealsClient::StagePipeline(std::string_view stage_id, const ActionContext& ctx) {
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, 0, ""));
  dv1::ListPipelinesResponse out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->pipelines->ListPipelines(&call, dv1::ListPipelinesRequest(), &out)));
  for (const dv1::Pipeline& p : out.pipelines()) {
    for (const dv1::Stage& s : p.stages()) {
      if (s.id() == stage_id) return p.id();
    }
  }
  return InvalidFieldError("move_stage.stage_id", "no such stage");
}

// ---------------------------------------------------------------------------------------------------
// The actions

absl::StatusOr<std::string> DealsClient::CreateTask(const rv1::Action& action, const ActionContext& ctx) {
  const rv1::CreateTask& a = action.create_task();
  if (ctx.idempotency_key.empty()) return InvalidFieldError("idempotency_key", "required");
  if (a.title().empty()) return InvalidFieldError("create_task.title", "required");
  CRM_ASSIGN_OR_RETURN(const dv1::Task::Kind kind, TaskKind(a.kind()));
  dv1::CreateTaskRequest req;
  dv1::Task& t = *req.mutable_task();
  t.set_deal_id(ctx.deal_id);
  t.set_kind(kind);
  t.set_title(a.title());
  if (!a.responsible().empty()) {
    absl::string_view user = AsAbsl(a.responsible());
    if (!absl::ConsumePrefix(&user, "user:") || user.empty()) {
      return InvalidFieldError("create_task.responsible", "expected \"\" (the deal's responsible) or \"user:<id>\"");
    }
    t.set_responsible_id(std::string(user));
  }  // else deals gives the task the deal's responsible
  const absl::Duration due_in = absl::Seconds(a.due_in().seconds()) + absl::Nanoseconds(a.due_in().nanos());
  CRM_ASSIGN_OR_RETURN(const absl::Time due, DueTime(ctx.now, due_in, a.working_time()));
  *t.mutable_due_time() = ToProtoTimestamp(due);
  if (a.skip_if_open()) {  // one open at a time (seed 002's КП loop returns to the same task)
    CRM_ASSIGN_OR_RETURN(const std::vector<dv1::Task> open, OpenTasks(a.title(), ctx));
    if (!open.empty()) return absl::StrCat("task ", Quoted(a.title()), " already open: ", open.front().id());
  }
  grpc::ClientContext call;
  // On behalf of the creator (Постановщик), so deals records them as the task's creator.
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.creator_user_id.empty() ? ctx.on_behalf_of_user_id : ctx.creator_user_id,
                              ctx.depth, ctx.idempotency_key));
  dv1::Task out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->tasks->CreateTask(&call, req, &out)));
  return absl::StrCat("task ", out.id(), " due ", absl::FormatTime("%Y-%m-%d %H:%M %Z", due, zone_));
}

absl::StatusOr<std::vector<dv1::Task>> DealsClient::OpenTasks(std::string_view title, const ActionContext& ctx) {
  std::vector<dv1::Task> out;
  dv1::ListTasksRequest req;
  req.set_deal_id(ctx.deal_id);
  req.set_status(dv1::Task::OPEN);
  req.set_page_size(kMaxPage);
  for (;;) {
    grpc::ClientContext call;
    CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, 0, ""));
    dv1::ListTasksResponse page;
    CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->tasks->ListTasks(&call, req, &page)));
    for (const dv1::Task& t : page.tasks()) {
      if (t.title() == title && t.status() == dv1::Task::OPEN) out.push_back(t);
    }
    if (page.next_page_token().empty() || page.tasks_size() == 0) break;
    req.set_page_token(page.next_page_token());
  }
  return out;
}

absl::StatusOr<std::string> DealsClient::CompleteTasks(const rv1::Action& action, const ActionContext& ctx) {
  const rv1::CompleteTasks& a = action.complete_tasks();
  if (a.title().empty()) return InvalidFieldError("complete_tasks.title", "required");
  CRM_ASSIGN_OR_RETURN(std::vector<dv1::Task> open, OpenTasks(a.title(), ctx));
  if (open.empty()) return absl::StrCat("no open task ", Quoted(a.title()));
  int completed = 0;
  for (const dv1::Task& t : open) {
    dv1::CompleteTaskRequest req;
    req.set_id(t.id());
    req.set_result(a.result());  // version 0: whatever edits it had, a task of this title still open
    grpc::ClientContext call;
    CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, ctx.depth, ""));
    dv1::Task out;
    const absl::Status s = FromGrpcStatus(stubs_->tasks->CompleteTask(&call, req, &out));
    // Closed or deleted meanwhile (by its responsible, or an earlier attempt of this action): nothing to do.
    if (absl::IsFailedPrecondition(s) || absl::IsNotFound(s)) continue;
    CRM_RETURN_IF_ERROR(s);
    ++completed;
  }
  return absl::StrCat("completed ", completed, " of ", open.size(), " open task", open.size() == 1 ? " " : "s ",
                      Quoted(a.title()));
}

absl::StatusOr<std::string> DealsClient::AddComment(const rv1::Action& action, const ActionContext& ctx) {
  if (ctx.idempotency_key.empty()) return InvalidFieldError("idempotency_key", "required");
  if (action.add_comment().text().empty()) return InvalidFieldError("add_comment.text", "required");
  dv1::AddCommentRequest req;
  req.set_deal_id(ctx.deal_id);
  req.set_text(action.add_comment().text());
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, ctx.depth, ctx.idempotency_key));
  dv1::TimelineEntry out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->timeline->AddComment(&call, req, &out)));
  return absl::StrCat("comment ", out.id());
}

// The deal a read-check-write action (add_tag, set_field, change_responsible) works on. The first Get()
// gives the deal the run loaded (ActionContext::deal), if any, without a call: UpdateDeal's version check
// refuses it if it has gone stale (then Stale(), and the next Get() reads afresh). "Nothing to do" is
// concluded only from a fresh read: Recheck() says whether the deal came from the run (so read again
// and look once more) and makes the next Get() read it.
class DealsClient::DealSnapshot {
 public:
  explicit DealSnapshot(const ActionContext& ctx) : ctx_(ctx), fresh_(ctx.deal == nullptr) {}
  absl::StatusOr<dv1::Deal> Get(DealsClient& client) {
    if (fresh_) return client.Read(ctx_.deal_id, ctx_);
    return *ctx_.deal;
  }
  void Stale() { fresh_ = true; }
  bool Recheck() {
    const bool from_run = !fresh_;
    fresh_ = true;
    return from_run;
  }

 private:
  const ActionContext& ctx_;
  bool fresh_;
};

absl::StatusOr<std::string> DealsClient::AddTag(const rv1::Action& action, const ActionContext& ctx) {
  const std::string& tag = action.add_tag().tag();
  if (tag.empty()) return InvalidFieldError("add_tag.tag", "required");
  absl::Status last;
  DealSnapshot snapshot(ctx);
  for (int attempt = 0; attempt < options_.conflict_attempts; ++attempt) {
    CRM_ASSIGN_OR_RETURN(dv1::Deal deal, snapshot.Get(*this));
    if (std::find(deal.tags().begin(), deal.tags().end(), tag) != deal.tags().end()) {
      if (snapshot.Recheck()) continue;
      return absl::StrCat("tag ", Quoted(tag), " already there");
    }
    deal.add_tags(tag);
    last = Update(deal, "tags", ctx).status();
    if (last.ok()) return absl::StrCat("tag ", Quoted(tag), " added");
    if (!absl::IsAborted(last)) return last;
    snapshot.Stale();
  }
  return last;
}

absl::StatusOr<std::string> DealsClient::SetField(const rv1::Action& action, const ActionContext& ctx) {
  const rv1::SetField& a = action.set_field();
  const std::string& field = a.field();
  std::optional<dv1::FieldDefinition> def;
  std::string path = field;
  if (absl::StartsWith(field, "custom.")) {
    const std::string code = field.substr(7);
    CRM_ASSIGN_OR_RETURN(std::vector<dv1::FieldDefinition> defs, FieldDefinitions(ctx));
    for (auto& d : defs) {
      if (d.code() == code) def = std::move(d);
    }
    if (!def.has_value()) return InvalidFieldError("set_field.field", absl::StrCat("no custom field ", Quoted(code)));
    path = "fields";
  } else if (field != "priority" && field != "source") {
    return InvalidFieldError("set_field.field", "expected priority, source or custom.<code>");
  }
  // What the value means, parsed once.
  dv1::Deal::Priority priority = dv1::Deal::PRIORITY_UNSPECIFIED;
  std::string source;
  std::optional<dv1::FieldValue> value;
  if (field == "priority") {
    CRM_ASSIGN_OR_RETURN(priority, ParsePriority(a.value()));
  } else if (field == "source") {
    source = PlainText(a.value());
  } else {
    CRM_ASSIGN_OR_RETURN(value, ParseFieldValue(*def, a.value()));
  }
  const std::string shown =
      field == "priority" ? dv1::Deal::Priority_Name(priority)
      : field == "source" ? absl::StrCat("\"", source, "\"")
      : value.has_value() ? ValueText(*value)
                          : std::string("(empty)");
  absl::Status last;
  DealSnapshot snapshot(ctx);
  for (int attempt = 0; attempt < options_.conflict_attempts; ++attempt) {
    CRM_ASSIGN_OR_RETURN(dv1::Deal deal, snapshot.Get(*this));
    bool same = false;
    if (field == "priority") {
      same = deal.priority() == priority;
      deal.set_priority(priority);
    } else if (field == "source") {
      same = deal.source() == source;
      deal.set_source(source);
    } else {
      auto* fields = deal.mutable_fields();
      auto it = std::find_if(fields->begin(), fields->end(),
                             [&](const dv1::FieldValue& f) { return f.code() == def->code(); });
      if (it == fields->end()) {
        same = !value.has_value();
        if (value.has_value()) *fields->Add() = *value;
      } else if (value.has_value()) {
        same = it->SerializeAsString() == value->SerializeAsString();
        *it = *value;
      } else {
        fields->erase(it);
      }
    }
    if (same && snapshot.Recheck()) continue;
    if (same) return absl::StrCat(field, " already ", shown);
    last = Update(deal, path, ctx).status();
    if (last.ok()) return absl::StrCat(field, " set to ", shown);
    if (!absl::IsAborted(last)) return last;
    snapshot.Stale();
  }
  return last;
}

absl::StatusOr<std::string> DealsClient::MoveStage(const rv1::Action& action, const ActionContext& ctx) {
  const std::string& stage_id = action.move_stage().stage_id();
  if (stage_id.empty()) return InvalidFieldError("move_stage.stage_id", "required");
  CRM_ASSIGN_OR_RETURN(const dv1::Deal deal, Read(ctx.deal_id, ctx));
  if (deal.stage_id() == stage_id) return absl::StrCat("already in stage ", stage_id);
  dv1::MoveDealRequest req;
  req.set_id(ctx.deal_id);
  req.set_stage_id(stage_id);
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext call;
    CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, ctx.depth, ""));
    dv1::Deal out;
    const absl::Status moved = FromGrpcStatus(stubs_->deals->MoveDeal(&call, req, &out));
    // A stage of another pipeline: deals needs that pipeline named.
    if (attempt == 0 && absl::IsInvalidArgument(moved) && req.pipeline_id().empty()) {
      const std::vector<FieldViolation> v = FieldViolations(moved);
      if (!v.empty() && v[0].field == "stage_id") {
        CRM_ASSIGN_OR_RETURN(std::string pipeline, StagePipeline(stage_id, ctx));
        if (pipeline == deal.pipeline_id()) return moved;
        req.set_pipeline_id(pipeline);
        continue;
      }
    }
    CRM_RETURN_IF_ERROR(moved);
    return absl::StrCat("moved to stage ", stage_id);
  }
}

absl::StatusOr<std::string> DealsClient::ChangeResponsible(const rv1::Action& action, const ActionContext& ctx) {
  const std::string& user = action.change_responsible().user_id();
  if (user.empty()) return InvalidFieldError("change_responsible.user_id", "required");
  absl::Status last;
  DealSnapshot snapshot(ctx);
  for (int attempt = 0; attempt < options_.conflict_attempts; ++attempt) {
    CRM_ASSIGN_OR_RETURN(dv1::Deal deal, snapshot.Get(*this));
    if (deal.responsible_id() == user) {
      if (snapshot.Recheck()) continue;
      return absl::StrCat("responsible already ", user);
    }
    deal.set_responsible_id(user);
    last = Update(deal, "responsible_id", ctx).status();
    if (last.ok()) return absl::StrCat("responsible set to ", user);
    if (!absl::IsAborted(last)) return last;
    snapshot.Stale();
  }
  return last;
}

absl::StatusOr<std::string> DealsClient::CopyDeal(const rv1::Action& action, const ActionContext& ctx) {
  const rv1::CopyDeal& a = action.copy_deal();
  if (ctx.idempotency_key.empty()) return InvalidFieldError("idempotency_key", "required");
  dv1::CopyDealRequest req;
  req.set_id(ctx.deal_id);
  req.set_pipeline_id(a.pipeline_id());
  req.set_stage_id(a.stage_id());
  req.set_responsible_id(a.responsible_id());
  req.set_redacted(a.redacted());
  if (!a.options_json().empty()) {
    const auto parsed = google::protobuf::util::JsonStringToMessage(a.options_json(), req.mutable_options());
    if (!parsed.ok()) {  // stored rules were validated (rules.cc); our words, not the parser's
      return InvalidFieldError("copy_deal.options_json", "not crm.deals.v1.CopyOptions JSON");
    }
  }
  if (req.responsible_id().empty() && !req.options().responsible()) {
    // A robot is no user to default to: the copy goes to the source deal's responsible (a hand-over
    // names its executor in the rule instead).
    if (ctx.deal != nullptr && ctx.deal->id() == ctx.deal_id) {
      req.set_responsible_id(ctx.deal->responsible_id());
    } else {
      CRM_ASSIGN_OR_RETURN(dv1::Deal source, Read(ctx.deal_id, ctx));
      req.set_responsible_id(source.responsible_id());
    }
  }
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, ctx.on_behalf_of_user_id, ctx.depth, ctx.idempotency_key));
  dv1::Deal out;
  CRM_RETURN_IF_ERROR(FromGrpcStatus(stubs_->deals->CopyDeal(&call, req, &out)));
  return absl::StrCat("copy ", out.id());
}

}  // namespace crm::robots
