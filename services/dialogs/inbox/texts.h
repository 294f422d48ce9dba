// File: services/dialogs/inbox/texts.h
// -----------------------------------------------------------------------------
// What the inbox itself tells a client (T2), in Russian: data, kept in one place.
#ifndef CRM_SERVICES_DIALOGS_INBOX_TEXTS_H_
#define CRM_SERVICES_DIALOGS_INBOX_TEXTS_H_

namespace crm::dialogs::inbox::texts {

// A shared contact that is not the sender's own (contact.user_id != from.id).
inline constexpr char kForeignContact[] =
    "Принимается только ваш собственный номер: нажмите кнопку «Отправить номер телефона» под полем ввода.";
// A shared contact whose number is not a valid phone number.
inline constexpr char kBadPhone[] = "Не удалось распознать номер телефона. Попробуйте отправить его ещё раз.";
// /stop: the phone and the client are unlinked.
inline constexpr char kRevoked[] =
    "Ваш номер телефона отвязан от переписки. Чтобы привязать его снова, отправьте свой контакт.";
// The button of a phone request when the scenario names none.
inline constexpr char kSharePhoneButton[] = "Отправить номер телефона";

}  // namespace crm::dialogs::inbox::texts

#endif  // CRM_SERVICES_DIALOGS_INBOX_TEXTS_H_
