"""Idempotency cases of every POST route of crm.deals.* (issue 16, G1): each creating or changing POST
honours `Idempotency-Key` (services/deals/idempotent.h), so none is exempt. The contract: fixtures(curl,
as_) makes through the gateway what the cases need and returns {"name": "id", ...}; each case names its
gRPC method, a demo role, the path and a JSON body ({name} filled from the fixtures). A case is sent twice
with one key (200, identical bodies), then with the same key and another request (400 naming
idempotency-key). `other_body` / `other_path` say which other request that is (a POST whose request is
all in its path changes the path). Every case has objects of its own, so they run in any order."""
import uuid

# The demo pipeline of seed 001 and its stages (services/deals/demo.h).
LEADS = "01930000-0001-7000-8000-000000000000"
QUALIFICATION = "01930000-0001-7000-8000-000000000002"
NO_SHOW = "01930000-0001-7000-8000-000000000005"

# A 1×1 PNG: an attachment that also gets a thumbnail.
PNG_1x1 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def fixtures(curl, as_):
    def ok(r):
        if r.status != 200:
            raise AssertionError("fixture: %s %s" % (r.status, r.body))
        return r.json()

    manager = as_("manager")

    def deal(name):
        return ok(curl("POST", "/v1/deals", {"name": name + " " + uuid.uuid4().hex[:6], "pipelineId": LEADS,
                                             "amount": {"amountMinor": "100000", "currency": "RUB"}},
                       headers=manager))["id"]

    def client(name):
        return ok(curl("POST", "/v1/clients", {"kind": "KIND_COMPANY", "name": name + " " + uuid.uuid4().hex[:6]},
                       headers=manager))["id"]

    def contact(client_id):
        return ok(curl("POST", "/v1/clients/%s/contacts" % client_id, {"fullName": "Иванов Иван"},
                       headers=manager))["id"]

    def task(deal_id, kind="FOLLOW_UP"):
        return ok(curl("POST", "/v1/deals/%s/tasks" % deal_id,
                       {"kind": kind, "title": "Перезвонить", "dueTime": "2030-01-10T09:00:00Z"},
                       headers=manager))["id"]

    f = {"field_code": "idem_" + uuid.uuid4().hex[:10]}
    for name in ("move", "copy", "batch", "task", "complete", "cancel", "comment", "upload", "product",
                 "payment", "received", "schedule", "order", "status", "add_contact", "remove_contact"):
        f[name + "_deal"] = deal("Идемпотентность " + name)
    f["contact_client"] = client("ООО Контакт")
    f["add_contact"] = contact(client("ООО Добавить"))
    f["add_contact_other"] = contact(client("ООО Добавить ещё"))
    remove_client = client("ООО Убрать")
    f["remove_contact"] = contact(remove_client)
    f["remove_contact_other"] = contact(remove_client)
    for c in (f["remove_contact"], f["remove_contact_other"]):
        ok(curl("POST", "/v1/deals/%s/contacts" % f["remove_contact_deal"], {"contactId": c}, headers=manager))
    f["complete_task"] = task(f["complete_deal"])
    f["cancel_task"] = task(f["cancel_deal"])
    f["received_payment"] = ok(curl("POST", "/v1/deals/%s/payments" % f["received_deal"],
                                    {"dueDate": "2030-02-01", "amount": {"amountMinor": "50000"}},
                                    headers=manager))["payments"][0]["id"]
    f["status_order"] = ok(curl("POST", "/v1/deals/%s/orders" % f["status_deal"], {"order": {"comment": "Заказ"}},
                                headers=manager))["id"]
    return f


CASES = [
    {"rpc": "crm.deals.v1.PipelineService.CreatePipeline", "role": "head_of_sales", "path": "/v1/pipelines",
     "body": {"name": "Вторичка", "stages": [{"name": "Новая", "kind": "KIND_OPEN"},
                                              {"name": "Успешно", "kind": "KIND_WON"},
                                              {"name": "Отказ", "kind": "KIND_LOST"}]},
     "other_body": {"name": "Вторичка 2", "stages": [{"name": "Новая", "kind": "KIND_OPEN"},
                                                      {"name": "Успешно", "kind": "KIND_WON"},
                                                      {"name": "Отказ", "kind": "KIND_LOST"}]}},
    {"rpc": "crm.deals.v1.PipelineService.CreateFieldDefinition", "role": "head_of_sales", "path": "/v1/dealFields",
     "body": {"code": "{field_code}", "name": "Тип объекта", "type": "TYPE_STRING"},
     "other_body": {"code": "{field_code}", "name": "Тип объекта (другой)", "type": "TYPE_STRING"}},
    {"rpc": "crm.deals.v1.DealService.CreateDeal", "role": "manager", "path": "/v1/deals",
     "body": {"name": "Квартира 2к", "pipelineId": LEADS},
     "other_body": {"name": "Квартира 3к", "pipelineId": LEADS}},
    {"rpc": "crm.deals.v1.DealService.MoveDeal", "role": "manager", "path": "/v1/deals/{move_deal}:move",
     "body": {"stageId": QUALIFICATION, "comment": "Дозвонились"},
     "other_body": {"stageId": NO_SHOW}},
    {"rpc": "crm.deals.v1.DealService.CopyDeal", "role": "manager", "path": "/v1/deals/{copy_deal}:copy",
     "body": {"comment": "Копия"}, "other_body": {"comment": "Другая копия"}},
    {"rpc": "crm.deals.v1.DealService.BatchCopyDeals", "role": "manager", "path": "/v1/deals:batchCopy",
     "body": {"ids": ["{batch_deal}"], "comment": "Пакет"}, "other_body": {"ids": ["{batch_deal}"], "comment": "Другой"}},
    {"rpc": "crm.deals.v1.ClientService.CreateClient", "role": "manager", "path": "/v1/clients",
     "body": {"kind": "KIND_COMPANY", "name": "ООО Ромашка"}, "other_body": {"kind": "KIND_COMPANY", "name": "ООО Лютик"}},
    {"rpc": "crm.deals.v1.ClientService.CreateContact", "role": "manager",
     "path": "/v1/clients/{contact_client}/contacts",
     "body": {"fullName": "Петров Пётр"}, "other_body": {"fullName": "Сидоров Сидор"}},
    {"rpc": "crm.deals.v1.ClientService.AddDealContact", "role": "manager",
     "path": "/v1/deals/{add_contact_deal}/contacts",
     "body": {"contactId": "{add_contact}"}, "other_body": {"contactId": "{add_contact_other}"}},
    {"rpc": "crm.deals.v1.ClientService.RemoveDealContact", "role": "manager",
     "path": "/v1/deals/{remove_contact_deal}/contacts/{remove_contact}:remove", "body": {},
     "other_path": "/v1/deals/{remove_contact_deal}/contacts/{remove_contact_other}:remove"},
    {"rpc": "crm.deals.v1.TaskService.CreateTask", "role": "manager", "path": "/v1/deals/{task_deal}/tasks",
     "body": {"kind": "CALL", "title": "Позвонить", "dueTime": "2030-01-10T09:00:00Z"},
     "other_body": {"kind": "CALL", "title": "Позвонить ещё", "dueTime": "2030-01-10T09:00:00Z"}},
    {"rpc": "crm.deals.v1.TaskService.CompleteTask", "role": "manager", "path": "/v1/tasks/{complete_task}:complete",
     "body": {"result": "Договорились"}, "other_body": {"result": "Не договорились"}},
    {"rpc": "crm.deals.v1.TaskService.CancelTask", "role": "manager", "path": "/v1/tasks/{cancel_task}:cancel",
     "body": {}, "other_body": {"version": "1"}},
    {"rpc": "crm.deals.v1.TimelineService.AddComment", "role": "manager", "path": "/v1/deals/{comment_deal}/comments",
     "body": {"text": "Клиент просит скидку"}, "other_body": {"text": "Клиент думает"}},
    {"rpc": "crm.deals.v1.TimelineService.UploadAttachment", "role": "manager",
     "path": "/v1/deals/{upload_deal}/attachments",
     "body": {"fileName": "plan.png", "content": PNG_1x1}, "other_body": {"fileName": "plan2.png", "content": PNG_1x1}},
    {"rpc": "crm.deals.v1.DealProductService.AddDealProduct", "role": "manager",
     "path": "/v1/deals/{product_deal}/products",
     "body": {"name": "Монтаж", "quantity": "1", "unitPrice": {"amountMinor": "300000"}},
     "other_body": {"name": "Монтаж", "quantity": "2", "unitPrice": {"amountMinor": "300000"}}},
    {"rpc": "crm.deals.v1.PaymentService.AddPayment", "role": "manager", "path": "/v1/deals/{payment_deal}/payments",
     "body": {"dueDate": "2030-03-01", "amount": {"amountMinor": "70000"}},
     "other_body": {"dueDate": "2030-03-01", "amount": {"amountMinor": "80000"}}},
    {"rpc": "crm.deals.v1.PaymentService.MarkPaymentReceived", "role": "manager",
     "path": "/v1/deals/{received_deal}/payments/{received_payment}:markReceived",
     "body": {"comment": "Платёжка 17"}, "other_body": {"comment": "Платёжка 18"}},
    {"rpc": "crm.deals.v1.PaymentService.ApplyPaymentSchedule", "role": "manager",
     "path": "/v1/deals/{schedule_deal}/payments:applySchedule",
     "body": {"parts": [{"percent": 50, "dueDate": "2030-04-01"}, {"percent": 50, "dueDate": "2030-05-01"}]},
     "other_body": {"parts": [{"percent": 100, "dueDate": "2030-04-01"}]}},
    {"rpc": "crm.deals.v1.OrderService.CreateOrder", "role": "manager", "path": "/v1/deals/{order_deal}/orders",
     "body": {"order": {"comment": "Окна"}}, "other_body": {"order": {"comment": "Двери"}}},
    {"rpc": "crm.deals.v1.OrderService.SetOrderStatus", "role": "manager",
     "path": "/v1/deals/{status_deal}/orders/{status_order}:setStatus",
     "body": {"status": "IN_PROGRESS"}, "other_body": {"status": "SHIPPED"}},
]
