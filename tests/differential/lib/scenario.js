/*
 * scenario.js: reading scenario files and producing canonical output lines.
 *
 * Shared by run.js (the comparing front end) and worker.js (which executes
 * scenarios in better-sqlite3). The canonical encoding defined here is also
 * implemented by scenario_runner.c; the two must stay byte-identical:
 *
 *   {"columns":[...],"rows":[[...],...]}   statement with result columns
 *   {"changes":N}                          other statements
 *   {"result":<value>}                     control (powersync_control's value)
 *   {"ok":true}                            exec, core, reopen, second,
 *                                          advance, clock
 *   {"error":{"code":"SQLITE_...","message":"..."}}
 *
 * Values: integer -> digits, text -> JSON string, NULL -> null,
 * REAL -> {"real":"<16 hex digits of the IEEE-754 bits>"},
 * BLOB -> {"blob":"<lower hex>"}.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/* A float literal of a scenario file (integers are BigInt). */
class JFloat {
  constructor(value) {
    this.value = value;
  }
}

/* Objects from parseJson remember their keys in document order here (plain
 * objects list integer-like keys first, which would reorder "1" before "a"). */
const KEY_ORDER = Symbol('keyOrder');

/* The keys of a parsed object in document order. */
function keysOf(obj) {
  return obj[KEY_ORDER] || Object.keys(obj);
}

/*
 * A JSON parser that keeps integer literals exact (BigInt) and marks float
 * literals (JFloat), so that 64-bit arguments and expected values survive.
 * The rule is the one of src/core/json.h: a literal without fraction and
 * exponent that is not "-0" is an integer.
 */
const NUM_RE = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STR_RE = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

function parseJson(text, file) {
  let i = 0;
  const fail = (msg) => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    const col = i - before.lastIndexOf('\n');
    throw new Error(`${file}: ${msg} at line ${line} column ${col}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = {};
      const order = [];
      Object.defineProperty(obj, KEY_ORDER, { value: order });
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = string();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        if (Object.prototype.hasOwnProperty.call(obj, k)) fail(`duplicate key ${k}`);
        order.push(k);
        obj[k] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return v;
      }
    }
    NUM_RE.lastIndex = i;
    const m = NUM_RE.exec(text);
    if (!m) fail('expected a value');
    i += m[0].length;
    if (m[2] || m[3] || m[0] === '-0') return new JFloat(Number(m[0]));
    return BigInt(m[0]);
  };
  const string = () => {
    STR_RE.lastIndex = i;
    const m = STR_RE.exec(text);
    if (!m) fail('invalid string');
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

const ACTIONS = ['sql', 'exec', 'tx', 'control', 'core', 'reopen', 'second', 'advance', 'clock'];
const STEP_KEYS = new Set([
  ...ACTIONS, 'args', 'label', 'normalize', 'deviation', 'ours', 'sqlite340',
]);
const SCENARIO_KEYS = ['description', 'database', 'clock', 'bson_twin', 'steps'];
const NORMALIZERS = new Set(['cause', 'statement']);
/* Argument wrappers: single-key objects with one of these keys. */
const WRAPPERS = new Set(['blob', 'int', 'real', 'json', 'bson']);

function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JFloat);
}

function isWrapper(v) {
  if (!isPlainObject(v)) return false;
  const keys = keysOf(v);
  return keys.length === 1 && WRAPPERS.has(keys[0]);
}

/*
 * The mocked clock: "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> milliseconds since the
 * epoch (scenario_runner.c parses it the same way), or null if malformed.
 */
const ISO_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,3}))?Z$/;
function parseClock(text) {
  const m = typeof text === 'string' ? ISO_RE.exec(text) : null;
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/* Seconds of an "advance" step -> milliseconds (rounded half away from 0). */
function advanceMs(v) {
  if (typeof v === 'bigint') return Number(v) * 1000;
  const x = v.value * 1000;
  return x >= 0 ? Math.floor(x + 0.5) : -Math.floor(-x + 0.5);
}

/* Loads and validates tests/differential/scenarios/<name>.json. */
function loadScenario(file) {
  const name = path.basename(file, '.json');
  const sc = parseJson(fs.readFileSync(file, 'utf8'), file);
  const bad = (msg) => {
    throw new Error(`${file}: ${msg}`);
  };
  if (!isPlainObject(sc)) bad('not an object');
  for (const k of keysOf(sc)) {
    if (!SCENARIO_KEYS.includes(k)) bad(`unknown key "${k}"`);
  }
  if (typeof sc.description !== 'string' || !sc.description) bad('missing "description"');
  const database = sc.database === undefined ? 'memory' : sc.database;
  if (database !== 'memory' && database !== 'file') bad('"database" must be "memory" or "file"');
  let clock = null;
  if (sc.clock !== undefined) {
    clock = parseClock(sc.clock);
    if (clock === null) bad('"clock" must be an ISO time "YYYY-MM-DDTHH:MM:SS[.fff]Z"');
  }
  if (sc.bson_twin !== undefined && typeof sc.bson_twin !== 'boolean') bad('"bson_twin" must be a boolean');
  if (!Array.isArray(sc.steps) || sc.steps.length === 0) bad('missing "steps"');
  let hasCore = false;
  sc.steps.forEach((st, idx) => {
    const where = `step ${idx}`;
    if (!isPlainObject(st)) bad(`${where}: not an object`);
    for (const k of keysOf(st)) if (!STEP_KEYS.has(k)) bad(`${where}: unknown key "${k}"`);
    const acts = ACTIONS.filter((a) => st[a] !== undefined);
    if (acts.length !== 1) bad(`${where}: needs exactly one of ${ACTIONS.join(', ')}`);
    const act = acts[0];
    st.action = act;
    if (['sql', 'exec', 'tx', 'second'].includes(act) && typeof st[act] !== 'string') bad(`${where}: "${act}" must be a string`);
    if (act === 'core') {
      if (st.core !== 'official' && st.core !== 'ours') bad(`${where}: "core" must be "official" or "ours"`);
      if (database !== 'file') bad(`${where}: "core" steps need "database": "file"`);
      hasCore = true;
    }
    if (act === 'reopen') {
      if (st.reopen !== true) bad(`${where}: "reopen" must be true`);
      if (database !== 'file') bad(`${where}: "reopen" steps need "database": "file"`);
    }
    if (act === 'second' && database !== 'file') bad(`${where}: "second" steps need "database": "file"`);
    if (act === 'advance' || act === 'clock') {
      if (clock === null) bad(`${where}: "${act}" steps need a scenario "clock"`);
      if (act === 'advance' && typeof st.advance !== 'bigint' && !(st.advance instanceof JFloat)) bad(`${where}: "advance" must be a number of seconds`);
      if (act === 'clock' && parseClock(st.clock) === null) bad(`${where}: "clock" must be an ISO time "YYYY-MM-DDTHH:MM:SS[.fff]Z"`);
    }
    if (act === 'control') {
      if (!Array.isArray(st.control) || st.control.length !== 2) bad(`${where}: "control" must be [op, payload]`);
      if (st.args !== undefined) bad(`${where}: "args" only for "sql" and "tx"`);
      st.args = controlArgs(st.control);
    } else if (st.args !== undefined) {
      if (act !== 'sql' && act !== 'tx') bad(`${where}: "args" only for "sql" and "tx"`);
      if (!Array.isArray(st.args)) bad(`${where}: "args" must be an array`);
    }
    if (st.args !== undefined) st.args.forEach((a) => checkArg(a, (m) => bad(`${where}: ${m}`)));
    if (st.label !== undefined && typeof st.label !== 'string') bad(`${where}: "label" must be a string`);
    if (st.normalize !== undefined) {
      if (!Array.isArray(st.normalize) || !st.normalize.every((n) => NORMALIZERS.has(n))) {
        bad(`${where}: "normalize" must be an array of ${[...NORMALIZERS].join(', ')}`);
      }
    }
    if ((st.deviation === undefined) !== (st.ours === undefined)) bad(`${where}: "deviation" and "ours" go together`);
    if (st.deviation !== undefined && (typeof st.deviation !== 'string' || !st.deviation)) bad(`${where}: "deviation" must be a name`);
    if (st.ours !== undefined) st.oursLine = expectedLine(st.ours, (m) => bad(`${where}: "ours": ${m}`));
    if (st.sqlite340 !== undefined && st.sqlite340 !== 'skip') {
      expectedLine(st.sqlite340, (m) => bad(`${where}: "sqlite340": ${m}`));
    }
  });
  return { name, file, database, clock, steps: sc.steps, hasCore, description: sc.description };
}

/*
 * The two arguments of a "control" step: the op as given, the payload as
 * given unless it is an object or array that is not an argument wrapper; such
 * a payload becomes {"bson": payload} for "line_binary" and {"json": payload}
 * otherwise.
 */
function controlArgs([op, payload]) {
  if ((isPlainObject(payload) && !isWrapper(payload)) || Array.isArray(payload)) {
    return [op, op === 'line_binary' ? { bson: payload } : { json: payload }];
  }
  return [op, payload];
}

function checkArg(a, bad) {
  if (a === null || typeof a === 'string' || typeof a === 'bigint' || typeof a === 'boolean' || a instanceof JFloat) {
    if (typeof a === 'bigint' && (a < -(2n ** 63n) || a >= 2n ** 63n)) bad(`integer ${a} out of range`);
    return;
  }
  if (isWrapper(a)) {
    const key = keysOf(a)[0];
    const v = a[key];
    if (key === 'blob' && typeof v === 'string' && /^([0-9a-fA-F]{2})*$/.test(v)) return;
    if (key === 'int' && typeof v === 'string' && /^-?[0-9]+$/.test(v)) {
      const n = BigInt(v);
      if (n >= -(2n ** 63n) && n < 2n ** 63n) return;
    }
    if (key === 'real' && typeof v === 'string' && /^[0-9a-fA-F]{16}$/.test(v)) return;
    if (key === 'json') return;
    if (key === 'bson' && isPlainObject(v)) {
      try {
        bsonBytes(v);
        return;
      } catch (e) {
        bad(e.message);
      }
    }
  }
  bad(`unsupported argument ${jsonText(a)}`);
}

/* Converts a scenario argument into a value better-sqlite3 binds. */
function bindValue(a) {
  if (a === null || typeof a === 'string') return a;
  if (typeof a === 'bigint') return a;
  if (typeof a === 'boolean') return a ? 1n : 0n;
  if (a instanceof JFloat) return a.value;
  if (a.blob !== undefined) return Buffer.from(a.blob, 'hex');
  if (a.int !== undefined) return BigInt(a.int);
  if (a.json !== undefined) return jsonText(a.json);
  if (a.bson !== undefined) return bsonBytes(a.bson);
  return Buffer.from(a.real, 'hex').readDoubleBE(0);
}

/*
 * Compact JSON text of a scenario value ({"json": ...} arguments and control
 * payloads): keys in document order, strings escaped like JSON.stringify,
 * integers as digits, floats in the form of Number.prototype.toExponential()
 * (shortest round-trip digits, e.g. 3.573495687e+9, 1e+0, -0e+0), so that
 * scenario_runner.c writes the same bytes and float-ness survives.
 */
function jsonText(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof JFloat) return floatText(v.value);
  if (Array.isArray(v)) return '[' + v.map(jsonText).join(',') + ']';
  return '{' + keysOf(v).map((k) => JSON.stringify(k) + ':' + jsonText(v[k])).join(',') + '}';
}

function floatText(x) {
  const neg = x < 0 || Object.is(x, -0);
  return (neg ? '-' : '') + Math.abs(x).toExponential();
}

/*
 * BSON document of a scenario object ({"bson": ...} arguments, line_binary
 * payloads), like the Dart bson package encodes JSON-like values: integers as
 * int32 (0x10) when they fit, else int64 (0x12); floats as double (0x01);
 * strings 0x02; objects 0x03; arrays 0x04 (keys "0", "1", ...); booleans
 * 0x08; null 0x0A. Keys in document order. scenario_runner.c mirrors this.
 */
function bsonBytes(obj) {
  if (!isPlainObject(obj)) throw new Error('a BSON document must be an object');
  return bsonDocument(keysOf(obj).map((k) => [k, obj[k]]));
}

function bsonDocument(entries) {
  const parts = [Buffer.alloc(4)];
  for (const [k, v] of entries) {
    const key = Buffer.from(k, 'utf8');
    if (key.includes(0)) throw new Error('BSON keys cannot contain NUL');
    const [type, body] = bsonValue(v);
    parts.push(Buffer.from([type]), key, Buffer.from([0]), body);
  }
  parts.push(Buffer.from([0]));
  const doc = Buffer.concat(parts);
  doc.writeInt32LE(doc.length, 0);
  return doc;
}

function bsonValue(v) {
  if (v === null) return [0x0a, Buffer.alloc(0)];
  if (v === true || v === false) return [0x08, Buffer.from([v ? 1 : 0])];
  if (typeof v === 'bigint') {
    if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(v), 0);
      return [0x10, b];
    }
    if (v >= -(2n ** 63n) && v < 2n ** 63n) {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(v, 0);
      return [0x12, b];
    }
    throw new Error(`integer ${v} does not fit a BSON int64`);
  }
  if (v instanceof JFloat) {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v.value, 0);
    return [0x01, b];
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    const len = Buffer.alloc(4);
    len.writeInt32LE(s.length + 1, 0);
    return [0x02, Buffer.concat([len, s, Buffer.from([0])])];
  }
  if (Array.isArray(v)) return [0x04, bsonDocument(v.map((x, i) => [String(i), x]))];
  return [0x03, bsonDocument(keysOf(v).map((k) => [k, v[k]]))];
}

/*
 * Canonical text of an expected value given in a scenario ("ours",
 * "sqlite340"): either the line itself as a string, or the JSON value.
 */
function expectedLine(v, bad) {
  if (typeof v === 'string') {
    let parsed;
    try {
      parsed = parseJson(v, 'expected line');
    } catch (e) {
      bad(e.message);
    }
    return canonicalValue(parsed, bad);
  }
  return canonicalValue(v, bad);
}

function canonicalValue(v, bad) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof JFloat) return bad('floats are not allowed in expected output (REAL is {"real":"<hex>"})');
  if (Array.isArray(v)) return '[' + v.map((x) => canonicalValue(x, bad)).join(',') + ']';
  return '{' + keysOf(v).map((k) => JSON.stringify(k) + ':' + canonicalValue(v[k], bad)).join(',') + '}';
}

/* Encoding of one SQLite value as returned by better-sqlite3 with
 * safeIntegers(true). */
function encodeValue(v) {
  if (v === null) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v, 0);
    return '{"real":"' + b.toString('hex') + '"}';
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Buffer.isBuffer(v)) return '{"blob":"' + v.toString('hex') + '"}';
  throw new Error(`unexpected value type ${typeof v}`);
}

function rowsLine(columns, rows) {
  return (
    '{"columns":[' + columns.map((c) => JSON.stringify(c)).join(',') + '],"rows":[' +
    rows.map((r) => '[' + r.map(encodeValue).join(',') + ']').join(',') + ']}'
  );
}

/* The line of a "control" step: the single value powersync_control returned. */
function resultLine(v) {
  return '{"result":' + encodeValue(v) + '}';
}

function changesLine(n) {
  return '{"changes":' + n + '}';
}

const OK_LINE = '{"ok":true}';

/*
 * Error line. Normalizers: "statement" drops the optional "statement <sql>: "
 * before "internal SQLite call returned" (the SQL text of a core's internal
 * statement is an implementation detail); "cause" replaces everything after
 * the first "cause: " with <parser message> (serde/bson parser wording).
 */
function errorLine(code, message, normalize) {
  let msg = message;
  if (normalize && normalize.includes('statement')) {
    const stmt = msg.indexOf('statement ');
    const internal = stmt >= 0 ? msg.indexOf(': internal SQLite call returned', stmt) : -1;
    if (internal >= 0) msg = msg.slice(0, stmt) + msg.slice(internal + 2);
  }
  if (normalize && normalize.includes('cause')) {
    const at = msg.indexOf('cause: ');
    if (at >= 0) msg = msg.slice(0, at + 'cause: '.length) + '<parser message>';
  }
  return '{"error":{"code":' + JSON.stringify(code) + ',"message":' + JSON.stringify(msg) + '}}';
}

const UUID_RE = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}/g;

/* Applied to every finished line (also inside larger strings). */
function normalizeLine(line) {
  return line.replace(UUID_RE, '<uuid>');
}

module.exports = {
  JFloat,
  keysOf,
  parseJson,
  parseClock,
  advanceMs,
  jsonText,
  bsonBytes,
  isPlainObject,
  isWrapper,
  loadScenario,
  bindValue,
  rowsLine,
  changesLine,
  errorLine,
  resultLine,
  normalizeLine,
  OK_LINE,
};
