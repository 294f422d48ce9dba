"""Idempotency cases of the deals service's 1C side (D17, services/deals/erp) POST routes (issue 17): read by
the suite's test that walks every POST route of the API descriptor set (api_conventions_test.py).

Each case is sent twice with one Idempotency-Key (200 both times, identical bodies: one batch applied, one
document made or signed, one report taken), then with the same key and another body (400 naming
idempotency-key). 1C's calls are the integrator's (erp.sync, catalog.manage); a manager makes and signs the
documents of their own deal.
"""
import datetime
import time
import uuid

# «Продажа» (services/deals/demo.h): the direction the demo data gives to 1C (services/deals/erp/demo.h).
SALES = "01930000-0002-7000-8000-000000000000"


def fixtures(curl, as_):
    """A deal of the manager's in «Продажа», a draft document of it, and a task of it that the deals service
    has mirrored to 1C (its consumer publishes it within seconds)."""
    run = uuid.uuid4().hex[:12]
    deal = curl("POST", "/v1/deals", {"name": "Идемпотентная поставка", "pipelineId": SALES,
                                      "amount": {"amountMinor": "10000000", "currency": "RUB"}},
                headers=as_("manager"))
    if deal.status != 200:
        raise AssertionError("fixture deal: %s" % deal.body)
    deal_id = deal.json()["id"]
    draft = curl("POST", "/v1/deals/%s/documents" % deal_id,
                 {"kind": "INVOICE", "number": "И-%s" % run, "date": "2026-03-02", "amount": {"amountMinor": "10000"}},
                 headers=as_("manager"))
    if draft.status != 200:
        raise AssertionError("fixture document: %s" % draft.body)
    due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    task = curl("POST", "/v1/deals/%s/tasks" % deal_id, {"kind": "CUSTOM", "title": "Отгрузить товар клиенту",
                                      "dueTime": due}, headers=as_("manager"))
    if task.status != 200:
        raise AssertionError("fixture task: %s" % task.body)
    task_id = task.json()["id"]
    deadline = time.monotonic() + 60
    while curl("GET", "/v1/erp/tasks/%s" % task_id, headers=as_("integrator")).status != 200:
        if time.monotonic() > deadline:
            raise AssertionError("the task was never mirrored to 1C")
        time.sleep(0.1)
    changed = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return {"run": run, "deal": deal_id, "draft": draft.json()["id"], "task": task_id, "changed": changed}


CASES = [
    {"rpc": "crm.deals.v1.ErpService.BatchUpsertCatalogItems",
     "role": "integrator",  # catalog.manage
     "path": "/v1/erp/catalog:batchUpsert",
     "body": {"items": [{"externalId": "idem-{run}", "name": "Насос идемпотентный", "unit": "шт",
                         "price": {"amountMinor": "100", "currency": "RUB"}, "active": True}]}},
    {"rpc": "crm.deals.v1.ErpService.BatchUpsertProposals",
     "role": "integrator",  # erp.sync
     "path": "/v1/erp/proposals:batchUpsert",
     "body": {"proposals": [{"externalId": "idem-kp-{run}", "dealId": "{deal}", "number": "КП-1",
                             "date": "2026-03-02", "revision": "1", "status": "SENT",
                             "comment": "Проверка идемпотентности",
                             "lines": [{"name": "Монтаж", "quantity": "1",
                                        "unitPrice": {"amountMinor": "100", "currency": "RUB"}}]}]}},
    {"rpc": "crm.deals.v1.ErpService.ReportErpTaskStatus",
     "role": "integrator",
     "path": "/v1/erp/tasks/idem-task-{run}:reportStatus",
     "body": {"taskId": "{task}", "status": "DONE", "changeTime": "{changed}", "comment": "Проверка идемпотентности"}},
    {"rpc": "crm.deals.v1.DocumentService.CreateDocument",
     "role": "manager",  # write access to their deal
     "path": "/v1/deals/{deal}/documents",
     "body": {"kind": "ACT", "number": "А-1", "date": "2026-03-02", "amount": {"amountMinor": "10000"},
              "comment": "Проверка идемпотентности"}},
    {"rpc": "crm.deals.v1.DocumentService.BatchUpsertDocuments",
     "role": "integrator",
     "path": "/v1/erp/documents:batchUpsert",
     "body": {"documents": [{"externalId": "idem-doc-{run}", "dealId": "{deal}", "kind": "UPD", "number": "У-1",
                             "date": "2026-03-02", "amount": {"amountMinor": "10000"},
                             "comment": "Проверка идемпотентности"}]}},
    {"rpc": "crm.deals.v1.DocumentService.SignDocument",
     "role": "manager",
     "path": "/v1/documents/{draft}:sign",
     "body": {},
     "other_body": {"version": "1"}},
]
