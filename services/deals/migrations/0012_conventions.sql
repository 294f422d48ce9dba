-- Issue 16: every list paginated by an index (services/deals/README.md "Lists"): a client's contacts in
-- the order they were linked, a deal's contacts main first and then in the order added.
CREATE INDEX client_contacts_pos ON client_contacts (client_id, pos);
CREATE INDEX deal_contacts_pos ON deal_contacts (deal_id, main DESC, pos);

-- A card carries its responsible's name (issue 16, seed 003): identity's User.full_name, kept with the
-- teams from crm.identity.user.v1 (services/deals/users.h).
ALTER TABLE user_directory ADD COLUMN full_name text NOT NULL DEFAULT '';
