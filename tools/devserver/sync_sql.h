/*
 * sync_sql.h: the small amount of SQL understanding the sync config
 * compiler (sync_config.c) needs. We do not parse SQL: SQLite does that
 * when it prepares the compiled statements. We only tokenize a query, find
 * its top-level structure (SELECT list, FROM table, WHERE terms joined by
 * AND) and recognise the PowerSync functions (request.user_id(),
 * auth.parameter('x'), bucket.x, ...), which we rewrite into SQLite bound
 * parameters. Everything else is copied through verbatim.
 *
 * Bound parameters of the rewritten request-side SQL:
 *   ?1 user id (JWT sub)        ?2 JWT payload (JSON text)
 *   ?3 connection parameters    ?4 subscription parameters (JSON text)
 *
 * Errors carry a byte offset into the query text so the caller can name
 * the YAML line. Internal to the dev server.
 */
#ifndef PSD_SYNC_SQL_H
#define PSD_SYNC_SQL_H

#include <stddef.h>

#include "util/buf.h"

enum psd_tok_type {
  PSD_TOK_IDENT,  /* Bare identifier or keyword. */
  PSD_TOK_QIDENT, /* "quoted" or `quoted` identifier. */
  PSD_TOK_STRING, /* 'string literal' */
  PSD_TOK_NUMBER,
  PSD_TOK_BLOB, /* X'00ff' */
  PSD_TOK_OP    /* Operators and punctuation, e.g. ( ) , . = ->> */
};

struct psd_tok {
  enum psd_tok_type type;
  size_t start; /* Byte offset in the query text. */
  size_t len;
};

/* A tokenized query; text is borrowed. */
struct psd_sql {
  const char *text;
  struct psd_tok *toks;
  size_t count;
};

struct psd_sql_err {
  char msg[320];
  size_t offset; /* Where in the query text the problem is. */
};

/* Tokenizes text (comments and whitespace dropped; a trailing ';' is
 * dropped too). SQL parameters (?, :x, @x, $x) are refused because the
 * compiled statements use their own. Returns 0 or -1 with err. */
int psd_sql_tokenize(const char *text, struct psd_sql *out,
                     struct psd_sql_err *err);
void psd_sql_free(struct psd_sql *q);

/* Whether token i is the identifier or operator word (case-insensitive). */
int psd_sql_is(const struct psd_sql *q, size_t i, const char *word);
/* Token i's name: identifiers unquoted, strings unescaped (malloc'd; NULL
 * when out of memory). */
char *psd_sql_tok_name(const struct psd_sql *q, size_t i);

/* Index of the token closing the parenthesis opened at open (or CASE ...
 * END), or (size_t)-1 when unbalanced within [open, end). */
size_t psd_sql_matching_close(const struct psd_sql *q, size_t open, size_t end);

/* Top-level positions (outside parentheses and CASE ... END) of tokens
 * matching word in [a, b); writes up to max indices, returns how many
 * there are. */
size_t psd_sql_find_top(const struct psd_sql *q, size_t a, size_t b,
                        const char *word, size_t *pos, size_t max);

/* Splits [a, b) at top-level AND (not the AND of BETWEEN x AND y). Term i
 * is [starts[i], ends[i]). Returns the number of terms, or -1 when there
 * are more than max or parentheses are unbalanced. */
int psd_sql_split_and(const struct psd_sql *q, size_t a, size_t b,
                      size_t *starts, size_t *ends, size_t max);

/* --- PowerSync functions --------------------------------------------- */

enum psd_ref_kind {
  PSD_REF_USER_ID,     /* request.user_id(), auth.user_id(),
                          token_parameters.user_id */
  PSD_REF_JWT,         /* request.jwt(), auth.parameters() */
  PSD_REF_JWT_CLAIM,   /* auth.parameter('x') */
  PSD_REF_TOKEN_PARAM, /* token_parameters.x: JWT "parameters" claim */
  PSD_REF_CONN,        /* request.parameters(), connection.parameters() */
  PSD_REF_CONN_PARAM,  /* connection.parameter('x'), user_parameters.x */
  PSD_REF_SUB,         /* subscription.parameters() */
  PSD_REF_SUB_PARAM,   /* subscription.parameter('x') */
  PSD_REF_BUCKET       /* bucket.x */
};

/* Where a function may appear; a mask of these is passed to the rewriter. */
#define PSD_FAMILY_REQUEST                                                     \
  1                         /* request.*, token_parameters, user_parameters    \
                             */
#define PSD_FAMILY_STREAM 2 /* auth.*, connection.*, subscription.* */
#define PSD_FAMILY_BUCKET 4 /* bucket.x */

struct psd_ref {
  enum psd_ref_kind kind;
  int family;
  char name[128]; /* Parameter / claim / bucket parameter name. */
  size_t first;   /* First token. */
  size_t end;     /* One past the last token. */
};

/* Parses a PowerSync function starting at token i (bounded by end).
 * Returns 1 with *ref, 0 when token i does not start one, -1 with err for
 * an unknown function in a PowerSync namespace or bad arguments. Tokens
 * naming not_ns (the query's own table or alias; may be NULL) are never
 * namespaces. */
int psd_sql_parse_ref(const struct psd_sql *q, size_t i, size_t end,
                      const char *not_ns, struct psd_ref *ref,
                      struct psd_sql_err *err);

/* The first PowerSync function in [a, b): 1 with *ref, 0 none, -1 err. */
int psd_sql_first_ref(const struct psd_sql *q, size_t a, size_t b,
                      const char *not_ns, struct psd_ref *ref,
                      struct psd_sql_err *err);

/* Called for each subscription.parameter('name') the rewriter replaces. */
typedef int (*psd_sql_name_cb)(void *user_data, const char *name);

/* Appends the text of tokens [a, b) to out (original spacing), with every
 * PowerSync function replaced by its SQLite form. Functions of a family
 * not in allowed are errors ("... is not available in <where>").
 * on_sub_param (may be NULL) sees subscription parameter names. Returns 0
 * or -1 with err. */
int psd_sql_rewrite(const struct psd_sql *q, size_t a, size_t b, int allowed,
                    const char *where, const char *not_ns,
                    psd_sql_name_cb on_sub_param, void *user_data,
                    struct ps__buf *out, struct psd_sql_err *err);

/* The original text of tokens [a, b), malloc'd (NULL: out of memory). */
char *psd_sql_text(const struct psd_sql *q, size_t a, size_t b);

/* --- SELECT structure ------------------------------------------------ */

struct psd_select_item {
  size_t a, b;   /* The item's tokens. */
  size_t expr_b; /* Expression is [a, expr_b) (before AS name). */
  int star;      /* `*` or `t.*` */
  char *name;    /* Output name, or NULL for an unnamed expression. */
};

/* SELECT <items> [FROM <table> [[AS] <alias>]] [WHERE <where>] */
struct psd_select {
  struct psd_select_item *items;
  size_t item_count;
  char *table;      /* Unquoted, NULL without FROM. */
  char *alias;      /* Unquoted, NULL when not aliased. */
  size_t table_tok; /* The table token. */
  size_t from_end;  /* One past the FROM clause's last token. */
  int has_where;
  size_t where_a; /* WHERE condition is [where_a, end). */
  size_t end;
};

/* Parses tokens [a, b) as the SELECT form above. Returns 0, or -1 with err
 * (JOINs, several tables, GROUP BY etc. after the table, ...). */
int psd_sql_parse_select(const struct psd_sql *q, size_t a, size_t b,
                         struct psd_select *out, struct psd_sql_err *err);
void psd_select_free(struct psd_select *s);

#endif
