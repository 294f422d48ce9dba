"""Idempotency cases of the dialogs service's Telegram part (T1, services/dialogs/telegram) POST routes (issue
18): read by the suite's walk of every POST route (api_conventions_test.py) and by
tests/e2e/dialogs_telegram_test.py, which runs them itself.

CreateBot twice with one Idempotency-Key makes one bot (200 both times, the same bot); the same key with
another body is refused naming idempotency-key. It needs dialogs pointed at a Bot API that knows the token
(the fake, tests/fakes/telegram_bot_api.py, accepts any "<digits>:<letters>" token: `tools/crm up` and the
e2e test start it) and a role holding dialogs.admin (identity's catalogue gives it to the administrator).
The webhook (TelegramIntake.ReceiveUpdate, intake.proto, routed by the gateway since G3) is exempt: Telegram
sends no Idempotency-Key; an update is keyed by (bot, update_id), so a redelivery stores nothing new
(dialogs_telegram_test.py proves it through the gateway).
"""
import random


def fixtures(curl, as_):
    """A fresh bot token per run: tokens are Telegram's, the fake answers getMe for any well-formed one."""
    return {"token": "%d:AAidempotencyCase%06d" % (random.randint(10 ** 8, 10 ** 9), random.randint(0, 999999))}


CASES = [
    {"rpc": "crm.dialogs.v1.BotService.CreateBot",
     "role": "administrator",
     "path": "/v1/dialogs/bots",
     "body": {"bot": {"name": "Бот идемпотентности", "intakeMode": "INTAKE_MODE_POLLING"}, "token": "{token}"}},
    {"rpc": "crm.dialogs.v1.TelegramIntake.ReceiveUpdate",
     "exempt": "Telegram's webhook: an update is stored once per (bot, update_id) (ON CONFLICT DO NOTHING), so a "
               "redelivery has no second effect; a public route authenticated by the bot's secret token"},
]
