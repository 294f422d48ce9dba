"""Mortgage end to end (issue 7, M1–M5): identity, deals, mortgage and the gateway as processes with the
demo banks of seed 004 §5.2.2, driven by curl through the gateway, python3-grpcio (a client built from the
descriptor set, not our code) and python3-confluent-kafka.

  - one loan's schedule: POST /v1/mortgage:calculateSchedule, checked against an independent Decimal
    computation of the annuity formula (numpy-financial's `pmt` convention) and the schedule's own sums;
  - bad input: 400 naming the field;
  - the multi-calculation for a demo profile: every program of every bank, each "no" with its reasons
    and fixes, and a fix applied makes the reason go away;
  - reference data as dated documents over gRPC: a rate set, changed and cancelled, read "as of" dates;
  - permissions; the special calculators; applications with statuses, a bank reply and its Kafka event;
    the desk and the bank-efficiency report;
  - issue 16: an application's client and deal exist and are the specialist's to see in deals (M4);
    identity's batch get of users; every POST's idempotency case (MortgageIdempotency, a stack of its own).
"""
import datetime
import os
import sys
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal, getcontext

import grpc
from confluent_kafka import Consumer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, SOURCE, StackTest, main  # noqa: E402
from stack import BROKERS  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from idempotency import check_cases, load_cases  # noqa: E402

getcontext().prec = 50

# The demo pipeline «Первичная обработка» (services/deals/demo.h).
LEADS = "01930000-0001-7000-8000-000000000000"

PROFILE = {"age": 35, "citizenRu": True, "employment": "EMPLOYMENT_HIRED", "totalExperienceMonths": 120,
           "currentJobMonths": 36, "monthlyIncome": "35000000", "incomeProof": "INCOME_PROOF_NDFL_2",
           "childrenAges": [4], "married": True, "insurance": True}
PROPERTY = {"type": "OBJECT_TYPE_NEW_BUILD", "price": "1200000000", "downPayment": "300000000",
            "termMonths": 300, "region": 77}


def annuity(principal_kop, rate, months):
    """The annuity payment in kopecks, half-up: A = S·i / (1 − (1+i)^−n), i = r/12 (numpy-financial pmt)."""
    i = Decimal(rate) / 12
    a = Decimal(principal_kop) * i / (1 - (1 + i) ** -months)
    return int(a.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Mortgage(StackTest):
    # deals: an application's client and deal are checked with deals (M4).
    services = ["deals", "mortgage"]

    def post(self, path, body, role="mortgage_specialist", status=200, headers=()):
        r = self.curl("POST", path, body, headers=self.as_(role, *headers))
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def get(self, path, role="mortgage_specialist", status=200):
        r = self.curl("GET", path, headers=self.as_(role))
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def get_all(self, path, field, role="mortgage_specialist"):
        """Every item of list `path` under `field`, page after page (issue 16: every list is paged)."""
        items, token = [], ""
        while True:
            sep = "&" if "?" in path else "?"
            page = self.get(path + (sep + "pageToken=" + token if token else ""), role=role)
            items += page.get(field, [])
            token = page.get("nextPageToken", "")
            if not token:
                return items

    # ---- M3: one schedule ------------------------------------------------------------------------------

    def test_schedule_matches_an_independent_annuity_and_its_own_sums(self):
        # 200 000 ₽ at 7.5 % for 15 years: numpy-financial's pmt(0.075/12, 180, 200000) = −1854.02.
        s = self.post("/v1/mortgage:calculateSchedule", {"principal": "20000000", "annualRate": "0.075",
                                                         "termMonths": 180, "kind": "LOAN_KIND_ANNUITY",
                                                         "issueDate": "2026-01-15"})
        self.assertEqual(int(s["payment"]), 185402)
        self.assertEqual(int(s["payment"]), annuity(20000000, "0.075", 180))
        rows = s["rows"]
        self.assertEqual(len(rows), 180)
        self.assertEqual(rows[-1].get("balanceAfter", "0"), "0")
        self.assertEqual(sum(int(r.get("principal", 0)) + int(r.get("early", 0)) for r in rows), 20000000)
        self.assertEqual(sum(int(r.get("interest", 0)) for r in rows), int(s["totalInterest"]))
        self.assertEqual(rows[0]["date"], "2026-02-15")
        self.assertEqual(s["psk"], "7.500")

        # A 10-million loan at 4.56 % for 20 years, the example rate; the default profile is 1/12.
        s2 = self.post("/v1/mortgage:calculateSchedule", {"principal": "1000000000", "annualRate": "0.0456",
                                                          "termMonths": 240, "issueDate": "2026-03-10"})
        self.assertEqual(int(s2["payment"]), annuity(1000000000, "0.0456", 240))

        # An early repayment lowers the total interest and shortens the loan (reduce term).
        s3 = self.post("/v1/mortgage:calculateSchedule", {
            "principal": "1000000000", "annualRate": "0.0456", "termMonths": 240, "issueDate": "2026-03-10",
            "earlyRepayments": [{"date": "2027-03-10", "amount": "100000000", "mode": "MODE_REDUCE_TERM"}]})
        self.assertLess(int(s3["totalInterest"]), int(s2["totalInterest"]))
        self.assertLess(len(s3["rows"]), 240)
        self.assertEqual(s3["rows"][-1].get("balanceAfter", "0"), "0")

        # Differentiated: equal principal parts, falling payments.
        d = self.post("/v1/mortgage:calculateSchedule", {"principal": "12000000", "annualRate": "0.12",
                                                         "termMonths": 12, "kind": "LOAN_KIND_DIFFERENTIATED",
                                                         "issueDate": "2026-01-15"})
        self.assertEqual(int(d["rows"][0]["principal"]), 1000000)
        self.assertEqual(int(d["rows"][0]["interest"]), 120000)
        self.assertGreater(int(d["rows"][0]["payment"]), int(d["rows"][-1]["payment"]))

    def test_bad_schedule_input_names_the_field(self):
        cases = [({"principal": "20000000", "annualRate": "0.075", "termMonths": 0}, "term_months"),
                 ({"principal": "20000000", "annualRate": "7.5%", "termMonths": 12}, "annual_rate"),
                 ({"principal": "20000000", "annualRate": "1.5", "termMonths": 12}, "annual_rate"),
                 ({"principal": "-5", "annualRate": "0.075", "termMonths": 12}, "principal"),
                 ({"principal": "20000000", "annualRate": "0.075", "termMonths": 12,
                   "earlyRepayments": [{"date": "2026-02-30", "amount": "100"}]}, "early_repayments[0].date")]
        for body, field in cases:
            r = self.curl("POST", "/v1/mortgage:calculateSchedule", body, headers=self.as_("mortgage_specialist"))
            self.assertEqual(r.status, 400, (body, r.body))
            self.assertIn(field, r.body)

    # ---- M3: the multi-calculation ---------------------------------------------------------------------

    def test_multi_calculation_covers_every_program_with_reasons(self):
        banks = self.get("/v1/mortgage/banks")["banks"]
        self.assertEqual(len(banks), 25)
        programs = self.get_all("/v1/mortgage/programs", "programs")
        self.assertEqual(len(self.get("/v1/mortgage/programs?pageSize=1000")["programs"]), 200)  # the maximum
        res = self.post("/v1/mortgage:multiCalculate", {"profile": PROFILE, "property": PROPERTY,
                                                       "asOf": "2026-11-25"})
        offers = res["offers"]
        self.assertEqual(len(offers), len(programs))
        eligible = [o for o in offers if o.get("eligible")]
        self.assertGreater(len(eligible), 0)
        self.assertEqual(res.get("eligibleCount", 0), len(eligible))
        for o in offers:
            if not o.get("eligible"):
                self.assertTrue(o.get("reasons"), o)
                for reason in o["reasons"]:
                    self.assertTrue(reason["code"] and reason["text"], reason)
            self.assertNotIn("schedule", o)  # summaries only unless asked
        # Eligible first, ranked 1.. by ПСК.
        ranks = [o.get("rank", 0) for o in offers[:len(eligible)]]
        self.assertEqual(ranks, list(range(1, len(eligible) + 1)))
        psks = [Decimal(o["psk"]) for o in eligible]
        self.assertEqual(psks, sorted(psks))
        # The family program is there for a family with a 4-year-old, at the subsidised rate up to 12 M ₽ in
        # Moscow: the whole 9 M loan is in the tranche.
        family = [o for o in eligible if o["kind"] == "PROGRAM_KIND_FAMILY"]
        self.assertTrue(family)
        # One full schedule on request.
        pick = eligible[0]["programId"]
        res2 = self.post("/v1/mortgage:multiCalculate", {"profile": PROFILE, "property": PROPERTY,
                                                        "asOf": "2026-11-25", "schedulesFor": [pick]})
        with_schedule = [o for o in res2["offers"] if "schedule" in o]
        self.assertEqual(len(with_schedule), 1)
        self.assertEqual(with_schedule[0]["programId"], pick)
        self.assertEqual(len(with_schedule[0]["schedule"]["rows"]), 300)

    def test_a_fix_removes_its_reason(self):
        # 52 years old, 30-year loan: age at maturity over the banks' limits; a small down payment.
        profile = dict(PROFILE, age=52)
        prop = dict(PROPERTY, downPayment="60000000", termMonths=360)
        offers = self.post("/v1/mortgage:multiCalculate", {"profile": profile, "property": prop,
                                                          "asOf": "2026-11-25"})["offers"]
        by_code = {}
        for o in offers:
            for reason in o.get("reasons", []):
                by_code.setdefault(reason["code"], []).append((o, reason))
        self.assertTrue(any(c.startswith("AGE") for c in by_code), sorted(by_code))
        age_offer, age_reason = next((o, r) for c, lst in by_code.items() if c.startswith("AGE") for o, r in lst
                                     if "fix" in r and "лет" in r["fix"])
        years = int("".join(ch for ch in age_reason["fix"].split("не более")[-1] if ch.isdigit()))
        fixed = self.post("/v1/mortgage:multiCalculate", {"profile": profile,
                                                         "property": dict(prop, termMonths=years * 12),
                                                         "asOf": "2026-11-25"})["offers"]
        same = next(o for o in fixed if o["programId"] == age_offer["programId"])
        self.assertNotIn(age_reason["code"], [r["code"] for r in same.get("reasons", [])])

    def test_bad_profile_names_the_field(self):
        r = self.curl("POST", "/v1/mortgage:multiCalculate",
                      {"profile": PROFILE, "property": dict(PROPERTY, downPayment="1300000000")},
                      headers=self.as_("mortgage_specialist"))
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("property.down_payment", r.body)

    # ---- M1, M2: dated documents, over gRPC with python3-grpcio ----------------------------------------

    def test_rates_set_and_cancelled_by_dated_documents(self):
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["mortgage"])
        Principal = api.message("crm.common.v1.Principal")
        md = self.stack.signed(Principal(kind=1, id=str(uuid.uuid4()),
                                         permissions=["mortgage.manage", "mortgage.calculate"]))
        create_bank, CreateBankRequest = api.method(channel, "crm.mortgage.v1.ReferenceService/CreateBank")
        Bank = api.message("crm.mortgage.v1.Bank")
        bank = create_bank(CreateBankRequest(bank=Bank(code="E2E-" + uuid.uuid4().hex[:6], name="Тест-Банк",
                                                       decision_days=2)), metadata=md, timeout=10)
        create_program, CreateProgramRequest = api.method(channel, "crm.mortgage.v1.ReferenceService/CreateProgram")
        Program = api.message("crm.mortgage.v1.Program")
        Scheme = api.message("crm.mortgage.v1.Scheme")
        program = create_program(CreateProgramRequest(program=Program(
            bank_id=bank.id, code="P1", name="Классическая", kind=1,
            schemes=[Scheme(code="S1", valid_from="2026-01-01")])), metadata=md, timeout=10)
        post, PostRateDocumentRequest = api.method(channel, "crm.mortgage.v1.ReferenceService/PostRateDocument")
        RateDocument = api.message("crm.mortgage.v1.RateDocument")
        RateCell = api.message("crm.mortgage.v1.RateCell")
        for date, op, rate in [("2026-01-01", 1, "0.2"), ("2026-06-01", 1, "0.18"), ("2026-09-01", 2, None)]:
            doc = RateDocument(date=date, operation=op, bank_id=bank.id, program_id=program.id, scheme_code="S1",
                               cells=[RateCell(rate=rate)] if rate else [])
            post(PostRateDocumentRequest(document=doc), metadata=md, timeout=10)

        def rate_on(day):
            got = self.get("/v1/mortgage/conditions?asOf=%s&bankId=%s" % (day, bank.id))
            p = got["bankConditions"][0].get("programs", [])
            cells = p[0].get("cells", []) if p else []
            return cells[0]["rate"] if cells else None

        self.assertEqual(rate_on("2026-03-01"), "0.2")
        self.assertEqual(rate_on("2026-07-01"), "0.18")
        self.assertIsNone(rate_on("2026-10-01"))

        # A bad document is refused whole, naming the field.
        with self.assertRaises(grpc.RpcError) as e:
            post(PostRateDocumentRequest(document=RateDocument(
                date="2026-01-01", operation=1, bank_id=bank.id, program_id=program.id, scheme_code="NOPE",
                cells=[RateCell(rate="0.1")])), metadata=md, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("document.scheme_code", e.exception.details())

    def test_permissions(self):
        # A sales manager calculates, but does not change the banks' conditions.
        self.post("/v1/mortgage:calculateSchedule", {"principal": "20000000", "annualRate": "0.075",
                                                     "termMonths": 12}, role="manager")
        r = self.curl("POST", "/v1/mortgage/banks", {"code": "X", "name": "X"}, headers=self.as_("manager"))
        self.assertEqual(r.status, 403, r.body)

    # ---- issue 16: the people of a screen (the desk's specialists) in one call, identity's batch get ------

    def test_users_batch_get_answers_a_screens_people_at_once(self):
        spec, mgr, nobody = self.user_id("mortgage_specialist"), self.user_id("manager"), str(uuid.uuid4())
        out = self.get("/v1/users:batchGet?ids=%s&ids=%s&ids=%s&ids=%s" % (spec, nobody, mgr, spec),
                       role="head_of_sales")
        self.assertEqual([u["id"] for u in out["users"]], [spec, mgr])
        self.assertEqual(out["users"][0]["fullName"], "Ипотечный Специалист Демо")
        self.assertEqual(out["users"][0]["roleCodes"], ["mortgage_specialist"])
        self.assertEqual([out["teamNames"][t] for t in out["users"][1]["teamIds"]], ["Отдел продаж"])
        self.assertEqual(out["missingIds"], [nobody])
        bad = self.curl("GET", "/v1/users:batchGet?ids=%s&ids=x&ids=y" % spec, headers=self.as_("head_of_sales"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual([d["field"] for d in bad.error()["details"]], ["ids[1]", "ids[2]"])
        # The specialist has no users.read.
        self.get("/v1/users:batchGet?ids=" + spec, status=403)

    # ---- M3: the special calculators -------------------------------------------------------------------

    def test_special_calculators(self):
        fam = self.post("/v1/mortgage:calculateFamily", {"loan": "1500000000", "subsidisedRate": "0.06",
                                                        "marketRate": "0.2", "limit": "1200000000",
                                                        "termMonths": 360})
        self.assertEqual(int(fam["subsidisedTranche"]), 1200000000)
        self.assertEqual(int(fam["marketTranche"]), 300000000)
        self.assertEqual(int(fam["subsidisedPayment"]), annuity(1200000000, "0.06", 360))
        self.assertEqual(int(fam["payment"]), int(fam["subsidisedPayment"]) + int(fam["marketPayment"]))

        mil = self.post("/v1/mortgage:calculateMilitary", {"annualRate": "0.18", "age": 30, "savings": "100000000",
                                                          "issueDate": "2026-11-25"})
        self.assertGreater(int(mil["maxLoan"]), 0)
        self.assertLessEqual(annuity(int(mil["maxLoan"]), "0.18", mil["termMonths"]), int(mil["monthlyContribution"]))

        sub = self.post("/v1/mortgage:calculateSubsidy", {"loan": "1000000000", "subsidisedRate": "0.05",
                                                         "marketRate": "0.21", "months": 24, "termMonths": 360})
        self.assertGreater(int(sub["paymentAfter"]), int(sub["paymentDuring"]))
        self.assertGreater(int(sub["developerCost"]), 0)

        solve = self.post("/v1/mortgage:solve", {"question": "QUESTION_MAX_LOAN_FOR_INCOME", "annualRate": "0.2",
                                                "termMonths": 360, "monthlyIncome": "20000000", "pti": "0.5"})
        loan = int(solve["loan"])
        self.assertLessEqual(annuity(loan, "0.2", 360), 10000000)
        self.assertGreater(annuity(loan + 100, "0.2", 360), 10000000)

    # ---- M4, M5: calculations, applications, bank replies, the desk and reports -------------------------

    def application_events(self, app_id, count, timeout=60):
        """The first `count` events of application `app_id` on crm.mortgage.application.v1, decoded."""
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        Envelope = api.message("crm.events.v1.Envelope")
        ApplicationEvent = api.message("crm.mortgage.v1.ApplicationEvent")
        c = Consumer({"bootstrap.servers": BROKERS, "group.id": "e2e-" + uuid.uuid4().hex,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe(["crm.mortgage.application.v1"])
        out = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and len(out) < count:
                m = c.poll(0.5)
                if m is None or m.error() or m.key() is None or m.key().decode() != app_id:
                    continue
                env = Envelope.FromString(m.value())
                event = ApplicationEvent()
                env.payload.Unpack(event)
                out.append((env.type, event))
        finally:
            c.close()
        return out

    def client_and_deal(self, responsible_role="mortgage_specialist"):
        """A client (made by the manager) and a deal of theirs assigned by the head of sales to the demo user
        of `responsible_role`, in deals."""
        client = self.curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Петров Пётр " + uuid.uuid4().hex[:4]},
                           headers=self.as_("manager"))
        self.assertEqual(client.status, 200, client.body)
        deal = self.curl("POST", "/v1/deals", {"name": "Ипотека, ЖК Демо", "pipelineId": LEADS,
                                               "clientId": client.json()["id"],
                                               "responsibleId": self.user_id(responsible_role)},
                         headers=self.as_("head_of_sales"))
        self.assertEqual(deal.status, 200, deal.body)
        return client.json()["id"], deal.json()["id"]

    def test_an_application_needs_a_client_and_a_deal_the_specialist_sees(self):
        """M4 (issue 16): mortgage asks deals as the specialist; what deals does not show them is refused,
        400 FAILED_PRECONDITION naming the field, and nothing is made."""
        client_id, deal_id = self.client_and_deal()
        _, managers_deal = self.client_and_deal(responsible_role="manager")
        bank = self.get("/v1/mortgage/banks?pageSize=1")["banks"][0]["id"]

        def create(client, deal):
            return self.curl("POST", "/v1/mortgage/applications", {
                "clientId": client, "dealId": deal, "bankId": bank, "loan": "900000000", "rate": "0.2"},
                headers=self.as_("mortgage_specialist"))

        before = self.get("/v1/mortgage/applications?clientId=" + client_id).get("applications", [])
        for client, deal, field in [(str(uuid.uuid4()), deal_id, "application.client_id"),
                                    (client_id, str(uuid.uuid4()), "application.deal_id"),
                                    (client_id, managers_deal, "application.deal_id")]:
            r = create(client, deal)
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual(r.error()["status"], "FAILED_PRECONDITION", r.body)
            self.assertEqual([d["field"] for d in r.error()["details"]], [field], r.body)
        self.assertEqual(self.get("/v1/mortgage/applications?clientId=" + client_id).get("applications", []), before)
        made = create(client_id, deal_id)
        self.assertEqual(made.status, 200, made.body)
        self.assertEqual(made.json()["dealId"], deal_id)

    def test_application_through_its_statuses_with_a_bank_reply(self):
        client_id, deal_id = self.client_and_deal()
        calc = self.post("/v1/mortgage/calculations", {
            "clientId": client_id, "dealId": deal_id, "project": "ЖК Демо",
            "request": {"profile": PROFILE, "property": PROPERTY, "asOf": "2026-11-25"}})
        self.assertTrue(calc["number"])
        offer = next(o for o in calc["response"]["offers"] if o.get("eligible"))
        app = self.post("/v1/mortgage/applications", {
            "clientId": client_id, "dealId": deal_id, "project": "ЖК Демо", "bankId": offer["bankId"],
            "programId": offer["programId"], "calculationId": calc["id"], "loan": offer["loan"], "rate": offer["rate"]},
            headers=("Idempotency-Key: " + uuid.uuid4().hex,))
        self.assertEqual(app["status"], "APPLICATION_STATUS_DRAFT")
        # A draft cannot be issued: the error names what may come next.
        r = self.curl("POST", "/v1/mortgage/applications/%s:changeStatus" % app["id"],
                      {"status": "APPLICATION_STATUS_ISSUED", "version": app["version"]}, headers=self.as_("mortgage_specialist"))
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("allowed next statuses: SENT", r.body)
        sent = self.post("/v1/mortgage/applications/%s:changeStatus" % app["id"],
                         {"status": "APPLICATION_STATUS_SENT", "version": app["version"]})
        self.assertEqual(sent["status"], "APPLICATION_STATUS_SENT")
        # A stale version is refused.
        r = self.curl("POST", "/v1/mortgage/applications/%s:changeStatus" % app["id"],
                      {"status": "APPLICATION_STATUS_UNDER_REVIEW", "version": app["version"]},
                      headers=self.as_("mortgage_specialist"))
        self.assertEqual(r.status, 409, r.body)
        approved = self.post("/v1/mortgage/applications/%s/replies" % app["id"], {
            "decision": "APPLICATION_STATUS_APPROVED", "approvedAmount": offer["loan"], "approvedRate": offer["rate"],
            "validUntil": "2027-02-25", "text": "Одобрено"})
        self.assertEqual(approved["status"], "APPLICATION_STATUS_APPROVED")
        self.assertEqual(len(approved["replies"]), 1)

        events = self.application_events(app["id"], 3)
        self.assertEqual([t for t, _ in events], ["crm.mortgage.application.created.v1",
                                                  "crm.mortgage.application.status_changed.v1",
                                                  "crm.mortgage.application.status_changed.v1"])
        self.assertEqual(events[2][1].application.status, 5)  # APPROVED
        self.assertEqual(events[2][1].reply.approved_amount, int(offer["loan"]))

        desk = self.get("/v1/mortgage/desk")
        self.assertIn(app["id"], [a["id"] for a in desk.get("approved", [])])
        report = self.get("/v1/mortgage/reports/banks?period.from=2026-01-01&period.to=2030-12-31",
                          role="head_of_sales", status=403)  # the head of sales has no mortgage.read.all
        self.assertTrue(report)
        today = datetime.date.today()
        period = "period.from=%s&period.to=%s" % (today - datetime.timedelta(days=1), today + datetime.timedelta(days=1))
        report = self.get("/v1/mortgage/reports/banks?" + period, role="administrator")
        row = next(r for r in report["rows"] if r["bankId"] == offer["bankId"])
        self.assertGreaterEqual(row["approved"], 1)
        self.assertTrue(row["approvalRate"])


class MortgageIdempotency(StackTest):
    """A stack of its own: the cases make banks, which would change the demo catalogue the multi-calculation
    test counts."""
    services = ["deals", "mortgage"]

    # ---- issue 16: every POST of mortgage and identity honours Idempotency-Key (or is exempt) -----------

    def test_every_post_case_honours_the_idempotency_key(self):
        """The cases the suite's POST walk reads, run here on their own: twice with one key (200, the same
        body), then the same key with another request (400 naming idempotency-key)."""
        for name in ("mortgage", "identity"):
            check_cases(self, load_cases(name))


if __name__ == "__main__":
    main()
