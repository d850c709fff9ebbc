/*
 * scenario.js: reading scenario files and producing canonical output lines.
 *
 * Shared by run.js (the comparing front end) and worker.js (which executes
 * scenarios in better-sqlite3). The canonical encoding defined here is also
 * implemented by scenario_runner.c; the two must stay byte-identical:
 *
 *   {"columns":[...],"rows":[[...],...]}   statement with result columns
 *   {"changes":N}                          other statements
 *   {"ok":true}                            exec, core, reopen
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

const ACTIONS = ['sql', 'exec', 'tx', 'core', 'reopen'];
const STEP_KEYS = new Set([
  ...ACTIONS, 'args', 'label', 'normalize', 'deviation', 'ours', 'sqlite340',
]);
const NORMALIZERS = new Set(['cause']);

/* Loads and validates tests/differential/scenarios/<name>.json. */
function loadScenario(file) {
  const name = path.basename(file, '.json');
  const sc = parseJson(fs.readFileSync(file, 'utf8'), file);
  const bad = (msg) => {
    throw new Error(`${file}: ${msg}`);
  };
  if (typeof sc !== 'object' || sc === null || Array.isArray(sc)) bad('not an object');
  for (const k of Object.keys(sc)) {
    if (!['description', 'database', 'steps'].includes(k)) bad(`unknown key "${k}"`);
  }
  if (typeof sc.description !== 'string' || !sc.description) bad('missing "description"');
  const database = sc.database === undefined ? 'memory' : sc.database;
  if (database !== 'memory' && database !== 'file') bad('"database" must be "memory" or "file"');
  if (!Array.isArray(sc.steps) || sc.steps.length === 0) bad('missing "steps"');
  let hasCore = false;
  sc.steps.forEach((st, idx) => {
    const where = `step ${idx}`;
    if (typeof st !== 'object' || st === null || Array.isArray(st)) bad(`${where}: not an object`);
    for (const k of Object.keys(st)) if (!STEP_KEYS.has(k)) bad(`${where}: unknown key "${k}"`);
    const acts = ACTIONS.filter((a) => st[a] !== undefined);
    if (acts.length !== 1) bad(`${where}: needs exactly one of ${ACTIONS.join(', ')}`);
    const act = acts[0];
    if (['sql', 'exec', 'tx'].includes(act) && typeof st[act] !== 'string') bad(`${where}: "${act}" must be a string`);
    if (act === 'core') {
      if (st.core !== 'official' && st.core !== 'ours') bad(`${where}: "core" must be "official" or "ours"`);
      if (database !== 'file') bad(`${where}: "core" steps need "database": "file"`);
      hasCore = true;
    }
    if (act === 'reopen') {
      if (st.reopen !== true) bad(`${where}: "reopen" must be true`);
      if (database !== 'file') bad(`${where}: "reopen" steps need "database": "file"`);
    }
    if (st.args !== undefined) {
      if (act !== 'sql' && act !== 'tx') bad(`${where}: "args" only for "sql" and "tx"`);
      if (!Array.isArray(st.args)) bad(`${where}: "args" must be an array`);
      st.args.forEach((a) => checkArg(a, (m) => bad(`${where}: ${m}`)));
    }
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
  return { name, file, database, steps: sc.steps, hasCore, description: sc.description };
}

function checkArg(a, bad) {
  if (a === null || typeof a === 'string' || typeof a === 'bigint' || typeof a === 'boolean' || a instanceof JFloat) {
    if (typeof a === 'bigint' && (a < -(2n ** 63n) || a >= 2n ** 63n)) bad(`integer ${a} out of range`);
    return;
  }
  if (typeof a === 'object' && !Array.isArray(a)) {
    const keys = Object.keys(a);
    if (keys.length === 1) {
      const v = a[keys[0]];
      if (keys[0] === 'blob' && typeof v === 'string' && /^([0-9a-fA-F]{2})*$/.test(v)) return;
      if (keys[0] === 'int' && typeof v === 'string' && /^-?[0-9]+$/.test(v)) {
        const n = BigInt(v);
        if (n >= -(2n ** 63n) && n < 2n ** 63n) return;
      }
      if (keys[0] === 'real' && typeof v === 'string' && /^[0-9a-fA-F]{16}$/.test(v)) return;
    }
  }
  bad(`unsupported argument ${JSON.stringify(a, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
}

/* Converts a scenario argument into a value better-sqlite3 binds. */
function bindValue(a) {
  if (a === null || typeof a === 'string') return a;
  if (typeof a === 'bigint') return a;
  if (typeof a === 'boolean') return a ? 1n : 0n;
  if (a instanceof JFloat) return a.value;
  if (a.blob !== undefined) return Buffer.from(a.blob, 'hex');
  if (a.int !== undefined) return BigInt(a.int);
  return Buffer.from(a.real, 'hex').readDoubleBE(0);
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
  return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + canonicalValue(v[k], bad)).join(',') + '}';
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

function changesLine(n) {
  return '{"changes":' + n + '}';
}

const OK_LINE = '{"ok":true}';

function errorLine(code, message, normalize) {
  let msg = message;
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
  parseJson,
  loadScenario,
  bindValue,
  rowsLine,
  changesLine,
  errorLine,
  normalizeLine,
  OK_LINE,
};
