/*
 * gen_util.js: writing generated scenario files (gen_sync_scenarios.js,
 * gen_sync_bson.js).
 *
 * Values are written the way lib/scenario.js reads them back: JavaScript
 * integers (and BigInt) as integer literals, other numbers and S.JFloat as
 * float literals (always with a fraction or exponent, so that they stay
 * floats), objects with their keys in document order.
 */
'use strict';

const fs = require('node:fs');
const S = require('./scenario');

function floatLiteral(x) {
  if (!Number.isFinite(x)) throw new Error(`cannot write ${x} in a scenario`);
  if (Object.is(x, -0)) return '-0.0';
  let s = String(x);
  if (!/[.eE]/.test(s)) s += '.0';
  return s;
}

function literal(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      if (!Number.isSafeInteger(v)) throw new Error(`integer ${v} is not exact: use a BigInt`);
      return String(v);
    }
    return floatLiteral(v);
  }
  if (v instanceof S.JFloat) return floatLiteral(v.value);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(literal).join(',') + ']';
  if (typeof v === 'object') {
    return '{' + S.keysOf(v).filter((k) => v[k] !== undefined).map((k) => JSON.stringify(k) + ':' + literal(v[k])).join(',') + '}';
  }
  throw new Error(`cannot write a ${typeof v} in a scenario`);
}

/* Scenario file text: top-level keys one per line, one step per line. */
function scenarioText(sc) {
  const out = ['{'];
  const keys = ['description', 'database', 'clock', 'bson_twin'].filter((k) => sc[k] !== undefined);
  for (const k of keys) out.push(`  ${JSON.stringify(k)}: ${literal(sc[k])},`);
  out.push('  "steps": [');
  sc.steps.forEach((st, i) => out.push(`    ${literal(st)}${i + 1 < sc.steps.length ? ',' : ''}`));
  out.push('  ]');
  out.push('}');
  return out.join('\n') + '\n';
}

/* Writes the file if its content changed; returns true if it did. */
function writeIfChanged(file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return false;
  fs.writeFileSync(file, text);
  return true;
}

module.exports = { literal, scenarioText, writeIfChanged };
