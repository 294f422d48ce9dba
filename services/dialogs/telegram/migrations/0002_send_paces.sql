-- The sender's paces (T1, sender.h), shared by every replica: the times of a bot's last sends (chat_id 0)
-- and of each chat's last sends, at most the limit's N each, oldest first, in Unix microseconds of the
-- sender's clock. A pass reads and writes them under the bot's advisory lock, so a pass on another replica
-- (or a new leader after a crash) counts the sends of the passes before it.
CREATE TABLE tg_send_paces (
  bot_id  uuid     NOT NULL REFERENCES tg_bots (id),
  chat_id bigint   NOT NULL,   -- 0: the bot's pace (Telegram's chat ids are never 0)
  sent    bigint[] NOT NULL,
  PRIMARY KEY (bot_id, chat_id));
