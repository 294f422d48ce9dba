-- Component "scenarios", T9 (issue 18): the chat-bot's history per dialog — crm.dialogs.v1.BotTransition,
-- append-only. The runner writes a step's transitions in the step's transaction (with the dialog's state);
-- the dialog's timeline (routing's GetDialogTimeline) reads them page by page on the primary key.
CREATE TABLE scenario_transitions (
  dialog_id        text        NOT NULL,
  seq              bigint      NOT NULL,   -- per dialog from 1 (ScenarioState.history_seq)
  scenario_id      uuid        NOT NULL,
  scenario_version bigint      NOT NULL,
  from_stage       text        NOT NULL,   -- '' = not started
  from_stage_name  text        NOT NULL,
  to_stage         text        NOT NULL,   -- '' = the bot's part is over (FINISH, CLOSE, SPAM)
  to_stage_name    text        NOT NULL,
  cause            text        NOT NULL CHECK (cause IN ('START', 'KEY', 'UNRECOGNIZED', 'ATTEMPTS_EXHAUSTED',
                                                         'REPLY_TIMEOUT', 'GO_TO_STAGE', 'FINISH', 'CLOSE',
                                                         'SPAM', 'OUT_OF_HOURS')),
  key_kind         text        NOT NULL CHECK (key_kind IN ('', 'TEXT', 'CONTACT', 'START')),
  input            text        NOT NULL CHECK (octet_length(input) <= 64),  -- a text key's matching value
  failed_attempts  integer     NOT NULL,
  time             timestamptz NOT NULL,
  PRIMARY KEY (dialog_id, seq)
);
