/*
 * worker.js: executes scenarios in better-sqlite3 with a PowerSync core
 * loaded, in a child process of run.js (so that a crash of the core under test
 * fails one scenario instead of the whole suite).
 *
 * Protocol (process IPC): run.js sends {id, file, mode, cores}; the worker
 * answers {id, lines, coreOf} or {id, fatal}. mode is "official" (every
 * connection uses the official core; "core" steps only reopen), "ours" (the
 * same with our core) or "switch" (start with the official core and honour
 * "core" steps). coreOf[i] names the core that executed step i.
 *
 * Sync scenarios: a scenario "clock" registers the mocked unixepoch() on every
 * connection opened here; "second" steps use a second connection (no core);
 * "control" steps run powersync_control in a transaction (README.md).
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const S = require('./scenario');

const ENTRY_POINT = 'sqlite3_powersync_init';

/* Where file databases go: $PS_DIFF_TMPDIR, else /dev/shm when usable
 * (no fsync cost; the suite is twice as fast), else the system temp dir. */
function tempRoot() {
  if (process.env.PS_DIFF_TMPDIR) return process.env.PS_DIFF_TMPDIR;
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch (e) {
    return os.tmpdir();
  }
}

function errorOf(e, normalize) {
  if (e instanceof Database.SqliteError) return S.errorLine(e.code, e.message, normalize);
  /* better-sqlite3's own checks (empty SQL, several statements, binding);
   * scenario_runner.c words the SQL ones the same way. */
  return S.errorLine('HARNESS_' + (e.name || 'Error'), String(e.message), normalize);
}

/* One statement; returns its canonical line or throws. */
function runStatement(db, sql, args) {
  const stmt = db.prepare(sql);
  const bound = (args || []).map(S.bindValue);
  if (stmt.reader) {
    stmt.safeIntegers(true).raw(true);
    const columns = stmt.columns().map((c) => c.name);
    const rows = stmt.all(...bound);
    return S.rowsLine(columns, rows);
  }
  stmt.safeIntegers(true);
  return S.changesLine(stmt.run(...bound).changes);
}

/* A connection without overrides, for the unixepoch() forms that do not
 * read the clock (e.g. unixepoch('2025-03-01 10:00:00') in migration 13). */
let plainDb = null;
const plainStmts = new Map();

function builtinUnixepoch(args) {
  if (!plainDb) plainDb = new Database(':memory:');
  let stmt = plainStmts.get(args.length);
  if (!stmt) {
    stmt = plainDb.prepare(`SELECT unixepoch(${args.map(() => '?').join(', ')})`).safeIntegers(true).pluck();
    plainStmts.set(args.length, stmt);
  }
  return stmt.get(...args);
}

/* ASCII-only case folding, like sqlite3_stricmp. */
function lowerAscii(s) {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const isSubsec = (v) => typeof v === 'string' && ['subsec', 'subsecond'].includes(lowerAscii(v));

/*
 * The mocked unixepoch(): the current time is the scenario clock.
 *   unixepoch(), unixepoch('now')              -> INTEGER seconds (truncated)
 *   unixepoch('subsec'), unixepoch('now', 'subsec') -> REAL seconds
 * Other modifiers after 'now' are not supported (an error); a first argument
 * that is not 'now'/'subsec' is handed to the built-in unixepoch().
 * scenario_runner.c implements the same.
 */
function mockUnixepoch(ms, args) {
  let i = 0;
  let subsec = false;
  if (args.length > 0) {
    if (typeof args[0] === 'string' && lowerAscii(args[0]) === 'now') i = 1;
    else if (isSubsec(args[0])) {
      subsec = true;
      i = 1;
    } else return builtinUnixepoch(args);
  }
  for (; i < args.length; i++) {
    if (!isSubsec(args[i])) throw new Error('mocked unixepoch(): unsupported modifier');
    subsec = true;
  }
  return subsec ? ms / 1000 : BigInt(ms) / 1000n;
}

class Session {
  constructor(sc, cores) {
    this.sc = sc;
    this.cores = cores;
    this.clockMs = sc.clock;
    this.db = null;
    this.second = null;
    this.dir = null;
    this.file = ':memory:';
    if (sc.database === 'file') {
      this.dir = fs.mkdtempSync(path.join(tempRoot(), 'ps-diff-'));
      this.file = path.join(this.dir, 'test.db');
    }
  }

  /* Opens the database with the given core; returns null or an error line. */
  open(core) {
    this.close();
    this.db = new Database(this.file);
    this.core = core;
    try {
      this.db.loadExtension(this.cores[core], ENTRY_POINT);
    } catch (e) {
      return errorOf(e);
    }
    if (this.clockMs !== null) {
      this.db.function('unixepoch', { varargs: true, deterministic: false, safeIntegers: true }, (...args) =>
        mockUnixepoch(this.clockMs, args),
      );
    }
    return null;
  }

  /* The second connection ("second" steps): no core, opened on first use. */
  secondDb() {
    if (!this.second) this.second = new Database(this.file);
    return this.second;
  }

  close() {
    if (this.db) {
      this.db.close();
      this.db = null;
    }
  }

  dispose() {
    this.close();
    if (this.second) {
      this.second.close();
      this.second = null;
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function runScenario(file, mode, cores) {
  const sc = S.loadScenario(file);
  const session = new Session(sc, cores);
  const lines = [];
  const coreOf = [];
  try {
    const initial = mode === 'ours' ? 'ours' : 'official';
    const err = session.open(initial);
    if (err) throw new Error(`cannot load the ${initial} core: ${err}`);
    for (const st of sc.steps) {
      let line;
      try {
        line = runStep(session, st, mode);
      } catch (e) {
        line = errorOf(e, st.normalize);
      }
      lines.push(S.normalizeLine(line));
      coreOf.push(session.core);
    }
  } finally {
    session.dispose();
  }
  return { lines, coreOf };
}

const CONTROL_SQL = 'SELECT powersync_control(?, ?)';

function runStep(session, st, mode) {
  if (st.core !== undefined || st.reopen !== undefined) {
    let core = session.core;
    if (st.core !== undefined) core = mode === 'switch' ? st.core : mode;
    return session.open(core) || S.OK_LINE;
  }
  if (st.advance !== undefined) {
    session.clockMs += S.advanceMs(st.advance);
    return S.OK_LINE;
  }
  if (st.clock !== undefined) {
    session.clockMs = S.parseClock(st.clock);
    return S.OK_LINE;
  }
  if (st.second !== undefined) {
    session.secondDb().exec(st.second);
    return S.OK_LINE;
  }
  const db = session.db;
  if (st.exec !== undefined) {
    db.exec(st.exec);
    return S.OK_LINE;
  }
  if (st.sql !== undefined) return runStatement(db, st.sql, st.args);
  /* tx and control: BEGIN; statement; COMMIT, or ROLLBACK when the
   * statement fails. */
  db.exec('BEGIN');
  let line;
  try {
    if (st.control !== undefined) {
      const row = db.prepare(CONTROL_SQL).safeIntegers(true).raw(true).get(...st.args.map(S.bindValue));
      line = S.resultLine(row[0]);
    } else {
      line = runStatement(db, st.tx, st.args);
    }
  } catch (e) {
    rollback(db);
    throw e;
  }
  try {
    db.exec('COMMIT');
  } catch (e) {
    rollback(db);
    throw e;
  }
  return line;
}

/* Ends a failed tx step; some errors have already rolled back. */
function rollback(db) {
  try {
    if (db.inTransaction) db.exec('ROLLBACK');
  } catch (e) {
    /* The step's own error is the one reported. */
  }
}

if (require.main === module) {
  process.on('message', (msg) => {
    let reply;
    try {
      reply = { id: msg.id, ...runScenario(msg.file, msg.mode, msg.cores) };
    } catch (e) {
      reply = { id: msg.id, fatal: e.stack || String(e) };
    }
    process.send(reply);
  });
}

module.exports = { runScenario };
