/*
 * fn_update_hooks.c: powersync_update_hooks(op), table-update notifications
 * for SDKs (core-storage.md section 11).
 *
 * Usage:
 *
 *   SELECT powersync_update_hooks('install');  -- NULL
 *   INSERT INTO foo DEFAULT VALUES;
 *   SELECT powersync_update_hooks('get');      -- '["foo"]' (JSON subtype)
 *   SELECT powersync_update_hooks('get');      -- '[]'
 *
 * HOW IT WORKS
 *
 * 'install' connects powersync_internal_close (whose xDisconnect removes the
 * hooks again when the connection closes) and installs an update hook, a
 * commit hook and a rollback hook, all with the connection state as argument.
 * The update hook adds each changed table to the state's pending set, the
 * commit hook moves the pending set into the committed set, the rollback hook
 * empties the pending set. 'get' returns the committed set as a sorted JSON
 * array and empties it. While installed, the hooks hold a reference to the
 * state, so it outlives every call SQLite can still make into them.
 *
 * Deliberate fix (docs/compatibility.md, "update-hooks-foreign-hook"): the
 * official core aborts the process when another component had installed one
 * of the three hooks. SQLite only reveals the previous hook through the
 * argument pointer that sqlite3_*_hook returns, so we install our hooks one at
 * a time and compare that pointer with our state: on a foreign one we put
 * back what we can (our own hook or none, which we know) and fail with
 * SQLITE_MISUSE. The foreign callback itself cannot be put back, as SQLite has
 * no way to read it; a foreign hook installed with a NULL argument cannot be
 * told apart from no hook at all.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../util/buf.h"
#include "error.h"
#include "register.h"
#include "sql.h"
#include "sqlite_api.h"
#include "state.h"

#define HOOKS_FN_NAME "powersync_update_hooks"

/* The subtype SQLite's JSON functions use for JSON text ('J'). */
#define HOOKS_JSON_SUBTYPE 74

/* Also called from vtab_close.c. */
void ps__update_hooks_uninstall(struct ps__state *st);

/* Update hook: remember the table; sqlite_sequence and WITHOUT ROWID tables
 * are not reported by SQLite. Out of memory is ignored: a hook cannot fail. */
static void hooks_on_update(void *arg, int op, const char *db_name,
                            const char *table, sqlite3_int64 rowid) {
  struct ps__state *st = arg;
  (void)op;
  (void)db_name;
  (void)rowid;
  (void)ps__name_set_add(&st->pending_tables, table);
}

/* Commit hook: the pending changes are now visible to others. */
static int hooks_on_commit(void *arg) {
  struct ps__state *st = arg;
  (void)ps__name_set_merge(&st->committed_tables, &st->pending_tables);
  return 0; /* Never veto the commit. */
}

/* Rollback hook: the pending changes never happened. */
static void hooks_on_rollback(void *arg) {
  struct ps__state *st = arg;
  ps__name_set_clear(&st->pending_tables);
}

/* The three hooks, each installed by one SQLite call that returns the
 * previous hook's argument. */
enum hook_kind { HOOK_UPDATE, HOOK_COMMIT, HOOK_ROLLBACK, HOOK_COUNT };

/* With their article, for the error message. */
static const char *const hook_names[HOOK_COUNT] = {"an update", "a commit",
                                                   "a rollback"};

/* Installs ours (own != 0) or none; returns the previous argument. */
static void *hooks_set(sqlite3 *db, enum hook_kind kind,
                       struct ps__state *own) {
  switch (kind) {
  case HOOK_UPDATE:
    return sqlite3_update_hook(db, own ? hooks_on_update : NULL, own);
  case HOOK_COMMIT:
    return sqlite3_commit_hook(db, own ? hooks_on_commit : NULL, own);
  case HOOK_ROLLBACK:
    return sqlite3_rollback_hook(db, own ? hooks_on_rollback : NULL, own);
  case HOOK_COUNT:
    break;
  }
  return NULL;
}

void ps__update_hooks_uninstall(struct ps__state *st) {
  int k;
  if (!st->hooks_installed)
    return;
  for (k = 0; k < HOOK_COUNT; k++)
    (void)hooks_set(st->db, (enum hook_kind)k, NULL);
  st->hooks_installed = 0;
  /* Last: this may release the state. */
  ps__state_unref(st);
}

/* Installs the three hooks. On a foreign hook, restores the hooks replaced
 * before it (they were ours or none), removes the foreign one (which cannot be
 * restored) and fails. */
static int hooks_install(struct ps__state *st, struct ps__err *e) {
  void *previous[HOOK_COUNT];
  int k, j;
  for (k = 0; k < HOOK_COUNT; k++) {
    previous[k] = hooks_set(st->db, (enum hook_kind)k, st);
    if (previous[k] && previous[k] != st) {
      (void)hooks_set(st->db, (enum hook_kind)k, NULL);
      for (j = 0; j < k; j++)
        (void)hooks_set(st->db, (enum hook_kind)j, previous[j] ? st : NULL);
      ps__err_set(e, SQLITE_MISUSE,
                  "cannot install hooks: another component had installed %s "
                  "hook on this connection; SQLite cannot restore it, so it "
                  "has been removed",
                  hook_names[k]);
      return e->code;
    }
  }
  if (!st->hooks_installed) {
    /* Released by ps__update_hooks_uninstall. */
    ps__state_ref(st);
    st->hooks_installed = 1;
  }
  return SQLITE_OK;
}

static int hooks_compare_names(const void *a, const void *b) {
  /* strcmp compares as unsigned char: byte order, as the official core. */
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the committed set as a sorted JSON array and empties it. */
static void hooks_take_committed(struct ps__state *st, struct ps__buf *out) {
  struct ps__name_set *set = &st->committed_tables;
  size_t i;
  if (set->count > 1)
    qsort(set->names, set->count, sizeof(*set->names), hooks_compare_names);
  ps__buf_putc(out, '[');
  for (i = 0; i < set->count; i++) {
    if (i > 0)
      ps__buf_putc(out, ',');
    ps__json_write_string(out, set->names[i], strlen(set->names[i]));
  }
  ps__buf_putc(out, ']');
  ps__name_set_clear(set);
}

static void hooks_get(sqlite3_context *ctx, struct ps__state *st) {
  struct ps__buf out;
  ps__buf_init(&out, 0);
  hooks_take_committed(st, &out);
  if (ps__buf_failed(&out)) {
    ps__result_nomem(ctx);
  } else {
    sqlite3_result_text(ctx, ps__buf_cstr(&out), (int)out.len,
                        SQLITE_TRANSIENT);
    sqlite3_result_subtype(ctx, HOOKS_JSON_SUBTYPE);
  }
  ps__buf_free(&out);
}

static void hooks_install_fn(sqlite3_context *ctx, struct ps__state *st) {
  struct ps__err e;
  ps__err_init(&e);
  /* Connect the pre-close table first: its xDisconnect uninstalls the hooks
   * before sqlite3_close needs the connection to be quiet. */
  if (ps__exec(st->db, "SELECT 1 FROM powersync_internal_close;", &e) ==
          SQLITE_OK &&
      hooks_install(st, &e) == SQLITE_OK) {
    sqlite3_result_null(ctx);
  } else {
    ps__err_result(ctx, HOOKS_FN_NAME, &e);
  }
  ps__err_free(&e);
}

static int hooks_op_is(sqlite3_value *v, const char *name) {
  const char *op = (const char *)sqlite3_value_text(v);
  size_t n = strlen(name);
  return op && (size_t)sqlite3_value_bytes(v) == n && memcmp(op, name, n) == 0;
}

static void powersync_update_hooks(sqlite3_context *ctx, int argc,
                                   sqlite3_value **argv) {
  struct ps__state *st = sqlite3_user_data(ctx);
  (void)argc;
  if (hooks_op_is(argv[0], "install")) {
    hooks_install_fn(ctx, st);
  } else if (hooks_op_is(argv[0], "get")) {
    hooks_get(ctx, st);
  } else {
    /* The one error of the official core reported without the function
     * name. */
    sqlite3_result_error(ctx, "Unknown operation", -1);
    sqlite3_result_error_code(ctx, SQLITE_MISUSE);
  }
}

int ps__register_update_hooks(sqlite3 *db, struct ps__state *st) {
  return ps__create_function(db, st, HOOKS_FN_NAME, 1,
                             SQLITE_DETERMINISTIC | SQLITE_RESULT_SUBTYPE,
                             powersync_update_hooks);
}
