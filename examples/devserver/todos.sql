-- A source database for powersync-devserver: the backend's own tables.
-- sqlite3 source.db < examples/devserver/todos.sql
CREATE TABLE lists (id TEXT PRIMARY KEY, name TEXT, owner_id TEXT);
CREATE TABLE todos (id TEXT PRIMARY KEY, list_id TEXT, description TEXT,
                    completed INTEGER, created_by TEXT);
INSERT INTO lists VALUES ('11111111-1111-4111-8111-111111111111', 'Groceries', 'alice');
INSERT INTO lists VALUES ('22222222-2222-4222-8222-222222222222', 'Work', 'bob');
INSERT INTO todos VALUES ('aaaaaaa1-0000-4000-8000-000000000001',
  '11111111-1111-4111-8111-111111111111', 'Buy milk', 0, 'alice');
INSERT INTO todos VALUES ('aaaaaaa1-0000-4000-8000-000000000002',
  '11111111-1111-4111-8111-111111111111', 'Buy eggs', 1, 'alice');
INSERT INTO todos VALUES ('bbbbbbb2-0000-4000-8000-000000000001',
  '22222222-2222-4222-8222-222222222222', 'Write report', 0, 'bob');
