// File: services/dialogs/scenarios/demo.cc
#include "services/dialogs/scenarios/demo.h"

#include <string>

#include <cstdio>
#include <cstdlib>
#include "google/protobuf/text_format.h"
#include "libs/base/clock.h"
#include "libs/events/outbox.h"
#include "libs/pg/pool.h"
#include "services/dialogs/scenarios/store.h"

namespace crm::dialogs::scenarios {
namespace {

// The seed's flow as data (proto text format of crm.dialogs.v1.Scenario).
constexpr char kDemo[] = R"pb(
  name: "Основной сценарий демо-бота"
  stages {
    code: "000000001"
    name: "Приветствие и запрос телефона"
    group: "Действия общего канала"
    first: true
    wait_for_reply: true
    entry_actions {
      kind: ACTION_KIND_SEND_TEXT
      text: "Здравствуйте! Вас приветствует отдел продаж. Мы поможем с выбором квартиры, ипотекой и сервисом."
    }
    entry_actions {
      kind: ACTION_KIND_REQUEST_PHONE
      text: "Чтобы мы могли вам помочь, поделитесь, пожалуйста, номером телефона."
      button_text: "Отправить номер телефона"
    }
    keys {
      kind: KEY_KIND_CONTACT
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000008" }
    }
    unrecognized {
      actions { kind: ACTION_KIND_SEND_TEXT text: "Пожалуйста, нажмите кнопку «Отправить номер телефона» ниже." }
      attempts: 2
      exhausted_actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000008" }
    }
    reply_timeout {
      period_seconds: 1800
      actions { kind: ACTION_KIND_SET_TOPIC topic: "Обращения к ГПП" }
      actions { kind: ACTION_KIND_DISTRIBUTE }
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
  }
  stages {
    code: "000000008"
    name: "Выбор темы обращения"
    group: "Действия общего канала"
    wait_for_reply: true
    entry_actions {
      kind: ACTION_KIND_SEND_MENU
      menu {
        text: "Спасибо! Выберите, пожалуйста, тему обращения:"
        keyboard: KEYBOARD_KIND_REPLY
        one_time: true
        rows { buttons { text: "Покупка квартиры" } }
        rows { buttons { text: "Ипотека" } }
        rows { buttons { text: "Обращение в сервисную службу" } }
        rows { buttons { text: "Другой вопрос" } }
      }
    }
    keys {
      kind: KEY_KIND_TEXT
      values: "Покупка квартиры"
      actions { kind: ACTION_KIND_SET_TOPIC topic: "Покупка квартиры" }
      actions { kind: ACTION_KIND_DISTRIBUTE }
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
    keys {
      kind: KEY_KIND_TEXT
      values: "Ипотека"
      actions { kind: ACTION_KIND_SET_TOPIC topic: "Ипотека" }
      actions { kind: ACTION_KIND_DISTRIBUTE }
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
    keys {
      kind: KEY_KIND_TEXT
      values: "Обращение в сервисную службу"
      actions { kind: ACTION_KIND_SET_TOPIC topic: "Обращение в сервисную службу" }
      actions { kind: ACTION_KIND_DISTRIBUTE }
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
    keys {
      kind: KEY_KIND_TEXT
      values: "Другой вопрос"
      actions { kind: ACTION_KIND_SET_TOPIC topic: "Обращения к ГПП" }
      actions { kind: ACTION_KIND_DISTRIBUTE }
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
    unrecognized {
      actions {
        kind: ACTION_KIND_SEND_TEXT
        text: "Не смогли направить Ваш вопрос специалисту по выбранной теме. Его рассмотрит специалист по общим вопросам."
      }
      attempts: 1
      exhausted_actions { kind: ACTION_KIND_SET_TOPIC topic: "Обращения к ГПП" }
      exhausted_actions { kind: ACTION_KIND_DISTRIBUTE }
      exhausted_actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
    reply_timeout {
      period_seconds: 1800
      actions { kind: ACTION_KIND_SET_TOPIC topic: "Обращения к ГПП" }
      actions { kind: ACTION_KIND_DISTRIBUTE }
      actions { kind: ACTION_KIND_GO_TO_STAGE stage: "000000009" finish: true }
    }
  }
  stages {
    code: "000000009"
    name: "Сообщение ожидания ответа"
    group: "Действия общего канала"
    entry_actions {
      kind: ACTION_KIND_SEND_TEXT
      text: "Спасибо! Ваш вопрос передан специалисту, он ответит вам в ближайшее время."
    }
  }
)pb";

}  // namespace

v1::Scenario DemoScenario() {
  v1::Scenario s;
  if (!google::protobuf::TextFormat::ParseFromString(kDemo, &s)) {
    std::fprintf(stderr, "the demo scenario does not parse\n");  // a build-time constant: a bug
    std::abort();
  }
  s.set_bot_id(kDemoBotId);
  return s;
}

absl::Status InstallDemoScenario(crm::pg::Pool& pool) {
  crm::events::OutboxWriter outbox("dialogs", SystemClock());
  ScenarioStore store(pool, SystemClock(), outbox);
  v1::Scenario s = DemoScenario();
  s.set_id(kDemoScenarioId);
  s.set_active(true);
  return store.InstallFixed(s);
}

}  // namespace crm::dialogs::scenarios
