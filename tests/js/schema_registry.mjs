// schema_registry.mjs — reads a lake's schema registry with JSON.parse, on its
// own (no kinlake code), for tests/e2e/schema_registry.sh and friends.
//
//   node schema_registry.mjs LAKE TYPE [WANT.json]
//     prints the union's column names of event type TYPE as a JSON array; with
//     WANT.json (a JSON array of names), exits 1 naming every missing one.
//   node schema_registry.mjs --trials WANT.json TYPE LAKE...
//     the same check over many lakes; prints "lakes=N lost=M" and exits 1 if
//     any column is missing anywhere.
//
// Layout read (encode/parquet/schema.h): fragments
// LAKE/_kinlake/schemas/event_type=<hive-escaped TYPE>/<sha256>.json, each named
// after the SHA-256 of its bytes (checked here), and the legacy object
// LAKE/_kinlake/schemas/<escaped>.json. Every document must be strict JSON
// with a "columns" array of {name, type}.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const TYPES = new Set(["bigint", "double", "boolean", "string"]);

function hiveEscape(s) {
	const b = Buffer.from(s, "utf8");
	if (b.length === 0) return "__HIVE_DEFAULT_PARTITION__";
	let out = "";
	for (const c of b) {
		const ch = String.fromCharCode(c);
		out += /[A-Za-z0-9._-]/.test(ch) ? ch : "%" + c.toString(16).toUpperCase().padStart(2, "0");
	}
	return out;
}

function columnsOf(path, bytes) {
	const doc = JSON.parse(bytes.toString("utf8"));
	if (!doc || !Array.isArray(doc.columns)) throw new Error(`${path}: no columns array`);
	for (const c of doc.columns)
		if (typeof c.name !== "string" || !TYPES.has(c.type)) throw new Error(`${path}: bad column ${JSON.stringify(c)}`);
	return doc.columns;
}

export function union(lake, type) {
	const esc = hiveEscape(type);
	const dir = join(lake, "_kinlake", "schemas", "event_type=" + esc);
	const names = new Map(); // name -> type
	const docs = [];
	if (existsSync(dir))
		for (const f of readdirSync(dir).sort()) {
			if (f.startsWith(".")) continue; // a writer's temporary file
			const bytes = readFileSync(join(dir, f));
			const sum = createHash("sha256").update(bytes).digest("hex");
			if (f !== sum + ".json") throw new Error(`${dir}/${f}: content hashes to ${sum}`);
			docs.push(columnsOf(f, bytes));
		}
	const legacy = join(lake, "_kinlake", "schemas", esc + ".json");
	if (existsSync(legacy)) docs.push(columnsOf(legacy, readFileSync(legacy)));
	for (const cols of docs) for (const c of cols) if (!names.has(c.name)) names.set(c.name, c.type);
	return { names: [...names.keys()], fragments: docs.length };
}

function missing(want, got) {
	const have = new Set(got);
	return want.filter((n) => !have.has(n));
}

const args = process.argv.slice(2);
if (args[0] === "--trials") {
	const want = JSON.parse(readFileSync(args[1], "utf8"));
	let lost = 0;
	const lakes = args.slice(3);
	for (const lake of lakes) {
		const m = missing(want, union(lake, args[2]).names);
		if (m.length) console.error(`${lake}: lost ${JSON.stringify(m)}`);
		lost += m.length;
	}
	console.log(`lakes=${lakes.length} lost=${lost}`);
	process.exit(lost ? 1 : 0);
} else {
	const u = union(args[0], args[1]);
	console.log(JSON.stringify(u.names));
	if (args[2]) {
		const m = missing(JSON.parse(readFileSync(args[2], "utf8")), u.names);
		if (m.length) {
			console.error(`missing from the registry of ${JSON.stringify(args[1])}: ${JSON.stringify(m)}`);
			process.exit(1);
		}
	}
}
