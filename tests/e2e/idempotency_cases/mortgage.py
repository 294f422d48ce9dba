"""Idempotency cases of every POST route of crm.mortgage.* (issue 16, G1): read by the suite's test that
walks every POST route of the API descriptor set, and by tests/e2e/mortgage_test.py, which runs them itself.

Each creating or changing POST honours `Idempotency-Key` (libs/pg/idempotency.h, the record in the
transaction of the change): sent twice with one key it answers 200 twice with the same body; the same key
with another request (`other_body`, or a changed free-text field) is 400 naming idempotency-key. The
calculators are pure computations sent as POST for their bodies: exempt. fixtures() makes what the cases
need through the gateway — a client and a deal in deals (M4: an application's client and deal must exist
and be visible to the specialist, so the deal's responsible is the specialist), a bank with a program, and
applications — each case with objects of its own, so the cases run in any order on a fresh stack.
"""
import base64
import json
import uuid

# The demo pipeline «Первичная обработка» (services/deals/demo.h).
LEADS = "01930000-0001-7000-8000-000000000000"

PROFILE = {"age": 35, "citizenRu": True, "employment": "EMPLOYMENT_HIRED", "totalExperienceMonths": 120,
           "currentJobMonths": 36, "monthlyIncome": "35000000", "incomeProof": "INCOME_PROOF_NDFL_2",
           "married": True, "insurance": True}
PROPERTY = {"type": "OBJECT_TYPE_NEW_BUILD", "price": "1200000000", "downPayment": "300000000",
            "termMonths": 300, "region": 77}


def user_id_of(headers):
    """The signed-in user's id: the `sub` of the bearer token among `headers`."""
    token = next(h for h in headers if h.startswith("Authorization: Bearer ")).split(" ", 2)[2]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def fixtures(curl, as_):
    def ok(r):
        if r.status != 200:
            raise AssertionError("fixture: %s %s" % (r.status, r.body))
        return r.json()

    specialist = as_("mortgage_specialist")
    uniq = uuid.uuid4().hex[:8]
    f = {"uniq": uniq}
    f["client"] = ok(curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Ипотечный Клиент " + uniq},
                          headers=as_("manager")))["id"]
    # The specialist's deal (deals.read.team reaches the deals a user is responsible for).
    f["deal"] = ok(curl("POST", "/v1/deals", {"name": "Ипотека " + uniq, "pipelineId": LEADS, "clientId": f["client"],
                                              "responsibleId": user_id_of(specialist)},
                        headers=as_("head_of_sales")))["id"]
    f["bank"] = ok(curl("POST", "/v1/mortgage/banks", {"code": "IDEM-F-" + uniq, "name": "Банк фикстур"},
                        headers=specialist))["id"]
    f["program"] = ok(curl("POST", "/v1/mortgage/programs", {
        "bankId": f["bank"], "code": "P1", "name": "Классическая", "kind": "PROGRAM_KIND_CLASSIC",
        "schemes": [{"code": "S1", "validFrom": "2026-01-01"}]}, headers=specialist))["id"]

    def application():
        return ok(curl("POST", "/v1/mortgage/applications", {
            "clientId": f["client"], "dealId": f["deal"], "bankId": f["bank"], "programId": f["program"],
            "loan": "900000000", "rate": "0.2"}, headers=specialist))

    status = application()
    f["status_app"], f["status_version"] = status["id"], status["version"]
    reply = application()
    sent = ok(curl("POST", "/v1/mortgage/applications/%s:changeStatus" % reply["id"],
                   {"status": "APPLICATION_STATUS_SENT", "version": reply["version"]}, headers=specialist))
    f["reply_app"] = sent["id"]
    return f


CASES = [
    # ---- M1, M2: reference data ------------------------------------------------------------------------
    {"rpc": "crm.mortgage.v1.ReferenceService.CreateBank", "role": "mortgage_specialist",
     "path": "/v1/mortgage/banks",
     "body": {"code": "IDEM-{uniq}", "name": "Банк идемпотентности", "decisionDays": 3},
     "other_body": {"code": "IDEM-{uniq}", "name": "Другой банк", "decisionDays": 3}},
    {"rpc": "crm.mortgage.v1.ReferenceService.CreateProgram", "role": "mortgage_specialist",
     "path": "/v1/mortgage/programs",
     "body": {"bankId": "{bank}", "code": "IDEM", "name": "Семейная (идемпотентность)", "kind": "PROGRAM_KIND_CLASSIC",
              "schemes": [{"code": "S1", "validFrom": "2026-01-01"}]},
     "other_body": {"bankId": "{bank}", "code": "IDEM", "name": "Другая программа", "kind": "PROGRAM_KIND_CLASSIC",
                    "schemes": [{"code": "S1", "validFrom": "2026-01-01"}]}},
    {"rpc": "crm.mortgage.v1.ReferenceService.PostRateDocument", "role": "mortgage_specialist",
     "path": "/v1/mortgage/rateDocuments",
     "body": {"date": "2026-02-01", "operation": "OPERATION_SET", "bankId": "{bank}", "programId": "{program}",
              "schemeCode": "S1", "cells": [{"rate": "0.19"}], "comment": "Снижение ставки"},
     "other_body": {"date": "2026-02-01", "operation": "OPERATION_SET", "bankId": "{bank}",
                    "programId": "{program}", "schemeCode": "S1", "cells": [{"rate": "0.18"}]}},
    {"rpc": "crm.mortgage.v1.ReferenceService.PostStopFactorDocument", "role": "mortgage_specialist",
     "path": "/v1/mortgage/stopFactorDocuments",
     "body": {"date": "2026-02-01", "operation": "OPERATION_SET", "bankId": "{bank}",
              "factors": [{"code": "AGE_BELOW_21", "text": "Возраст <21", "parameter": "PARAMETER_AGE", "max": "20"}]},
     "other_body": {"date": "2026-02-01", "operation": "OPERATION_SET", "bankId": "{bank}",
                    "factors": [{"code": "AGE_BELOW_22", "text": "Возраст <22", "parameter": "PARAMETER_AGE",
                                 "max": "21"}]}},
    {"rpc": "crm.mortgage.v1.ReferenceService.PostPtiDocument", "role": "mortgage_specialist",
     "path": "/v1/mortgage/ptiDocuments",
     "body": {"date": "2026-02-01", "entries": [{"bankId": "{bank}", "coefficient": "0.7"}]},
     "other_body": {"date": "2026-02-01", "entries": [{"bankId": "{bank}", "coefficient": "0.6"}]}},

    # ---- M3: pure computations -------------------------------------------------------------------------
    {"rpc": "crm.mortgage.v1.CalculatorService.CalculateSchedule",
     "exempt": "a pure computation sent as POST for its body: stores nothing, the same answer every time"},
    {"rpc": "crm.mortgage.v1.CalculatorService.MultiCalculate",
     "exempt": "a pure computation sent as POST for its body: stores nothing, the same answer every time"},
    {"rpc": "crm.mortgage.v1.CalculatorService.Solve",
     "exempt": "a pure computation sent as POST for its body: stores nothing, the same answer every time"},
    {"rpc": "crm.mortgage.v1.CalculatorService.CalculateMilitary",
     "exempt": "a pure computation sent as POST for its body: stores nothing, the same answer every time"},
    {"rpc": "crm.mortgage.v1.CalculatorService.CalculateFamily",
     "exempt": "a pure computation sent as POST for its body: stores nothing, the same answer every time"},
    {"rpc": "crm.mortgage.v1.CalculatorService.CalculateSubsidy",
     "exempt": "a pure computation sent as POST for its body: stores nothing, the same answer every time"},

    # ---- M4: calculations, questionnaires, applications, bank replies --------------------------------------
    {"rpc": "crm.mortgage.v1.ApplicationService.SaveCalculation", "role": "mortgage_specialist",
     "path": "/v1/mortgage/calculations",
     "body": {"clientId": "{client}", "dealId": "{deal}", "project": "ЖК Идемпотентный",
              "request": {"profile": PROFILE, "property": PROPERTY, "asOf": "2026-11-25"}},
     "other_body": {"clientId": "{client}", "dealId": "{deal}", "project": "ЖК Другой",
                    "request": {"profile": PROFILE, "property": PROPERTY, "asOf": "2026-11-25"}}},
    {"rpc": "crm.mortgage.v1.ApplicationService.CreateQuestionnaire", "role": "mortgage_specialist",
     "path": "/v1/mortgage/questionnaires",
     "body": {"clientId": "{client}", "dealId": "{deal}", "fullName": "Иванов Иван Иванович",
              "phone": "+79161234567", "profile": PROFILE, "property": PROPERTY},
     "other_body": {"clientId": "{client}", "dealId": "{deal}", "fullName": "Петров Пётр Петрович",
                    "phone": "+79161234567", "profile": PROFILE, "property": PROPERTY}},
    {"rpc": "crm.mortgage.v1.ApplicationService.CreateApplication", "role": "mortgage_specialist",
     "path": "/v1/mortgage/applications",
     "body": {"clientId": "{client}", "dealId": "{deal}", "project": "ЖК Идемпотентный", "bankId": "{bank}",
              "programId": "{program}", "loan": "900000000", "rate": "0.2"},
     "other_body": {"clientId": "{client}", "dealId": "{deal}", "project": "ЖК Идемпотентный", "bankId": "{bank}",
                    "programId": "{program}", "loan": "800000000", "rate": "0.2"}},
    {"rpc": "crm.mortgage.v1.ApplicationService.ChangeApplicationStatus", "role": "mortgage_specialist",
     "path": "/v1/mortgage/applications/{status_app}:changeStatus",
     "body": {"status": "APPLICATION_STATUS_SENT", "version": "{status_version}", "comment": "Отправлена в банк"},
     "other_body": {"status": "APPLICATION_STATUS_WITHDRAWN", "version": "{status_version}"}},
    {"rpc": "crm.mortgage.v1.ApplicationService.RecordBankReply", "role": "mortgage_specialist",
     "path": "/v1/mortgage/applications/{reply_app}/replies",
     "body": {"decision": "APPLICATION_STATUS_UNDER_REVIEW", "text": "Заявка принята к рассмотрению"},
     "other_body": {"decision": "APPLICATION_STATUS_DOCUMENTS_REQUESTED"}},
]
