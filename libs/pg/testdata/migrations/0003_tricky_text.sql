-- Text that a careless embedding would mangle: CMake's ${not_a_var} and @NOT_A_VAR@, quotes "x" and 'y',
-- a backslash \n, semicolons; and a )" pair.
CREATE TABLE probe_items (id bigserial PRIMARY KEY, name text NOT NULL);
COMMENT ON TABLE probe_items IS 'a ${not_a_var} b @NOT_A_VAR@ c "x" d ''y'' e \n f; g )" h';
INSERT INTO probe_applications (migration) VALUES ('0003');
