// event_contract.mjs — the event contract of DESIGN.md, decided independently
// in JS: which raw records are valid events, what their enriched form is
// (created_datetime / event_type / event_subtype recomputed here), and the
// Hive-escaped partition values. Shared by check_lake.mjs (the lake) and
// runtime_api.mjs (the Lambda Firehose responses).

export function hive(v) {
  if (v === null || v === undefined || v === '') return '__HIVE_DEFAULT_PARTITION__';
  let o = '';
  for (const b of Buffer.from(v, 'utf8')) {
    const ch = String.fromCharCode(b);
    o += /[A-Za-z0-9._-]/.test(ch) ? ch : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return o;
}

function iso(x, frac) {
  const sec = Math.floor(x);
  const d = new Date(sec * 1000).toISOString().slice(0, 19);
  if (!frac) return d + 'Z';
  // milliseconds truncated from the decimal text, as the contract specifies
  return d + '.' + String(msOf(x)).padStart(3, '0') + 'Z';
}
let rawCreated = null;
function msOf(x) {
  const t = rawCreated;
  if (t && !/[eE]/.test(t)) {
    const dot = t.indexOf('.');
    return dot < 0 ? 0 : Number((t.slice(dot + 1) + '000').slice(0, 3));
  }
  return Math.min(999, Math.floor((x - Math.floor(x)) * 1000 + 1e-6));
}

// top-level keys in order, from the raw text (to spot repeats JSON.parse hides)
export function topKeys(text) {
  const keys = []; let depth = 0, i = 0, inStr = false, start = -1, expectKey = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') { i++; continue; }
      if (c === '"') { inStr = false; if (depth === 1 && expectKey) { keys.push(JSON.parse(text.slice(start, i + 1))); expectKey = false; } }
      continue;
    }
    if (c === '"') { inStr = true; start = i; continue; }
    if (c === '{' || c === '[') { depth++; if (depth === 1 && c === '{') expectKey = true; continue; }
    if (c === '}' || c === ']') { depth--; continue; }
    if (c === ',' && depth === 1) expectKey = true;
    if (c === ':' && depth === 1) expectKey = false;
  }
  return keys;
}
function maxDepth(text) {
  let d = 0, m = 0, inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) { if (c === '\\') i++; else if (c === '"') inStr = false; continue; }
    if (c === '"') inStr = true; else if (c === '{' || c === '[') m = Math.max(m, ++d); else if (c === '}' || c === ']') d--;
  }
  return m;
}

// one decoder for every line (decode() without { stream: true } starts afresh)
const utf8 = new TextDecoder('utf-8', { fatal: true });
// Expected outcome for one raw line (Buffer): {reason} or {event, key}
export function classify(buf) {
  let text;
  try { text = utf8.decode(buf); } catch { return { reason: 'invalid_utf8' }; }
  if (maxDepth(text) > 64) return { reason: 'too_deep' };
  let obj;
  try { obj = JSON.parse(text); } catch { return { reason: 'invalid_json' }; }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { reason: 'not_object' };
  const keys = topKeys(text);
  if (new Set(keys).size !== keys.length) return { reason: 'duplicate_key' };
  for (const k of ['event_uuid', 'event_name', 'created_at']) if (!(k in obj)) return { reason: 'missing_field' };
  if (typeof obj.event_uuid !== 'string' || obj.event_uuid === '') return { reason: 'invalid_field' };
  if (typeof obj.event_name !== 'string' || obj.event_name === '') return { reason: 'invalid_field' };
  if (typeof obj.created_at !== 'number') return { reason: 'invalid_created_at' };
  const m = text.match(/"created_at"\s*:\s*(-?[0-9.eE+-]+)/);
  rawCreated = m ? m[1] : null;
  const x = obj.created_at;
  if (!(x >= 0 && x < 253402300800) || !isFinite(x) || (rawCreated && rawCreated.startsWith('-') && x !== 0)) return { reason: 'invalid_created_at' };
  const frac = rawCreated ? /[.eE]/.test(rawCreated) : !Number.isInteger(x);
  const parts = obj.event_name.split(':');
  const ev = { ...obj };
  delete ev.created_datetime; delete ev.event_type; delete ev.event_subtype;
  ev.created_datetime = iso(x, frac);
  ev.event_type = parts[0];
  ev.event_subtype = parts.length > 1 ? parts[1] : null;
  const dt = ev.created_datetime.slice(0, 10), hr = ev.created_datetime.slice(11, 13);
  const key = `events/event_type=${hive(ev.event_type)}/event_subtype=${hive(ev.event_subtype)}/dt=${dt}/hr=${hr}`;
  return { event: ev, key };
}


// object with keys sorted recursively, for order-insensitive comparison
export function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v).sort()) o[k] = canon(v[k]); return o; }
  return v;
}
