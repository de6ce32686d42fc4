/* test_gen.c — the synthetic event generator: shape, determinism, bad/dup mix. */
#include "check.h"
#include "gen/gen.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Generate into a temporary file; return its bytes (caller frees). With
 * path (256 bytes) the file is kept and its name goes there. */
static char *gen_mem(const struct kl_gen_opts *o, size_t *len, char *path)
{
	char tmpl[256];
	int fd = mkstemp(kl_test_tmpl(tmpl, sizeof tmpl, "kl_test_gen_"));
	struct kl_errbuf eb = {0};
	CHECK(fd >= 0);
	CHECK_EQ_INT(kl_gen_write(o, fd, &eb), KL_OK);
	off_t n = lseek(fd, 0, SEEK_END);
	char *p = malloc((size_t)n + 1);
	CHECK(p && pread(fd, p, (size_t)n, 0) == n);
	p[n] = '\0';
	*len = (size_t)n;
	close(fd);
	if (path)
		strcpy(path, tmpl);
	else
		unlink(tmpl);
	return p;
}

static int cmp_uuid(const void *a, const void *b) { return memcmp(a, b, 36); }

static int is_uuid(const char *u)
{
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]) || !u[i])
			return 0;
	}
	return u[14] == '4' && strchr("89ab", u[19]) && u[36] == '"';
}

/* Structural checks of a bad-free, dup-free stream; returns distinct names. */
static unsigned check_stream(const struct kl_gen_opts *o, const char *p, size_t len)
{
	static const char pre[] = "{\"event_uuid\":\"";
	char(*uuids)[36] = malloc(o->events * 36);
	unsigned seen[KL_GEN_MAX_TYPES] = {0}, distinct = 0, late = 0, bad = 0;
	uint64_t lines = 0;
	CHECK(memchr(p, '\0', len) == NULL);
	CHECK(len > 0 && p[len - 1] == '\n');
	CHECK(len >= 400 * o->events && len <= 500 * o->events); /* average line length */
	for (const char *l = p, *e; l < p + len; l = e + 1, lines++) {
		e = memchr(l, '\n', (size_t)(p + len - l));
		if (strncmp(l, pre, sizeof pre - 1) || e[-1] != '}' || !is_uuid(l + 15)) {
			bad++;
			continue;
		}
		memcpy(uuids[lines], l + 15, 36);
		/* memmem and a copy, not strstr/strtod: ASan scans to the buffer's end */
		const char *n = (char *)memmem(l, (size_t)(e - l), "\"event_name\":\"", 14) + 14;
		const char *q = memchr(n, '"', (size_t)(e - n));
		const char *t = (char *)memmem(l, (size_t)(e - l), "\"created_at\":", 13) + 13;
		char num[32] = {0};
		memcpy(num, t, 24);
		double want = (double)o->start + (double)o->span * (double)lines / (double)o->events;
		double got = strtod(num, NULL);
		late += got < want - 4 || got > want + 4 || got < o->start ||
			got >= o->start + o->span;
		unsigned i = 0;
		while (i < o->types && (strncmp(kl_gen_event_name(i), n, (size_t)(q - n)) ||
					kl_gen_event_name(i)[q - n]))
			i++;
		CHECK(i < o->types);
		if (i < o->types && !seen[i]++)
			distinct++;
	}
	CHECK_EQ_INT(lines, o->events);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(late, 0);
	qsort(uuids, lines, 36, cmp_uuid);
	unsigned same = 0;
	for (uint64_t i = 1; i < lines; i++)
		same += memcmp(uuids[i - 1], uuids[i], 36) == 0;
	CHECK_EQ_INT(same, 0);
	free(uuids);
	return distinct;
}

/* Strong check in Python: parse every line, classify rejects, check per-name
 * schemas are stable across all files. Prints "bad dup reasons widened frac". */
static const char validator[] =
	"import json,re,sys\n"
	"U=re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\Z')\n"
	"def dk(p):\n"
	" if len({k for k,_ in p})!=len(p): raise ValueError('dupkey')\n"
	" return dict(p)\n"
	"def depth(v):\n"
	" c=v.values() if isinstance(v,dict) else v if isinstance(v,list) else None\n"
	" return 0 if c is None else 1+max(map(depth,c),default=0)\n"
	"def num(x): return type(x) in (int,float)\n"
	"def why(l):\n"
	" try: d=json.loads(l.decode(),object_pairs_hook=dk)\n"
	" except UnicodeDecodeError: return 'utf8'\n"
	" except ValueError as e: return 'dupkey' if 'dupkey' in str(e) else 'syntax'\n"
	" if type(d) is not dict: return 'notobj'\n"
	" if depth(d)>64: return 'deep'\n"
	" u,n,t=d.get('event_uuid'),d.get('event_name'),d.get('created_at')\n"
	" for k,r in (('event_uuid','no_uuid'),('event_name','no_name'),('created_at','no_ts')):\n"
	"  if k not in d: return r\n"
	" if type(u) is not str or not u: return 'uuid'\n"
	" if type(n) is not str or not n: return 'name'\n"
	" if type(t) is str: return 'ts_str'\n"
	" if not num(t): return 'ts_type'\n"
	" if t<0: return 'ts_neg'\n"
	" if t>=253402300800: return 'ts_big'\n"
	" assert U.match(u) and start<=t<start+span and 5<=len(d)<=18, l\n"
	" return d\n"
	"start,span=int(sys.argv[1]),int(sys.argv[2])\n"
	"sch={};bad=dup=frac=0;why_=set();seen=set();uu=set()\n"
	"for f in sys.argv[3:]:\n"
	" for l in open(f,'rb'):\n"
	"  assert l.endswith(b'\\n') and b'\\n' not in l[:-1] and b'\\0' not in l\n"
	"  d=why(l)\n"
	"  if type(d) is str: bad+=1;why_.add(d);continue\n"
	"  if l in seen: dup+=1;continue\n"
	"  seen.add(l);assert d['event_uuid'] not in uu;uu.add(d['event_uuid'])\n"
	"  frac+=type(d['created_at']) is float\n"
	"  s=sch.setdefault(d['event_name'],{})\n"
	"  for k,v in list(d.items())[3:]:\n"
	"   if v is not None: s.setdefault(k,set()).add(type(v).__name__)\n"
	"w=0\n"
	"for n,s in sch.items():\n"
	" for k,ts in s.items():\n"
	"  assert len(ts)==1 or ts=={'int','float'},(n,k,ts);w+=len(ts)==2\n"
	"print(bad,dup,len(why_),w,frac)\n";

/* Run the validator over the given files; fills out[5]; 0 if python3 is missing. */
static int validate(const struct kl_gen_opts *o, const char *files, long out[5])
{
	char spath[256], cmd[1024];
	if (system("python3 -c '' 2>/dev/null") != 0)
		return 0;
	int fd = mkstemp(kl_test_tmpl(spath, sizeof spath, "kl_test_gen_py_"));
	CHECK(fd >= 0 && write(fd, validator, sizeof validator - 1) == sizeof validator - 1);
	close(fd);
	snprintf(cmd, sizeof cmd, "python3 %s %lld %lld %s", spath, (long long)o->start,
		 (long long)o->span, files);
	FILE *f = popen(cmd, "r");
	CHECK(f != NULL);
	int got = f ? fscanf(f, "%ld %ld %ld %ld %ld", &out[0], &out[1], &out[2], &out[3],
			    &out[4])
		    : 0;
	CHECK_EQ_INT(f ? pclose(f) : -1, 0);
	CHECK_EQ_INT(got, 5);
	unlink(spath);
	return got == 5;
}

int main(void)
{
	struct kl_gen_opts o;
	struct kl_errbuf eb = {0};
	size_t n1, n2, n3;
	char p1[256], p2[256], files[520];
	long v[5];

	/* names: 1000 distinct, a 1/2/3-part mix, shared prefixes, one needing escaping */
	unsigned parts[4] = {0}, payment = 0, odd = 0, same = 0;
	for (unsigned i = 0; i < KL_GEN_MAX_TYPES; i++) {
		const char *a = kl_gen_event_name(i), *c = a;
		unsigned k = 1;
		while ((c = strchr(c, ':')))
			c++, k++;
		parts[k < 4 ? k : 0]++;
		payment += i < 100 && strncmp(a, "payment:", 8) == 0;
		odd += strchr(a, ' ') && strchr(a, '/');
		for (unsigned j = 0; j < i; j++)
			same += strcmp(a, kl_gen_event_name(j)) == 0;
	}
	CHECK_EQ_INT(same, 0);
	CHECK(kl_gen_event_name(KL_GEN_MAX_TYPES) == NULL);
	CHECK(parts[0] == 0 && parts[1] >= 5 && parts[2] >= 20 && parts[3] >= 20);
	CHECK(payment >= 4);
	CHECK_EQ_INT(odd, 1);

	/* a clean stream: shape, uuids, timestamps, every type present */
	kl_gen_opts_default(&o);
	o.events = 20000;
	char *a = gen_mem(&o, &n1, p1);
	CHECK_EQ_INT(check_stream(&o, a, n1), 100);
	o.seed = 2;
	char *b = gen_mem(&o, &n2, p2);
	CHECK(n1 != n2 || memcmp(a, b, n1) != 0);
	snprintf(files, sizeof files, "%s %s", p1, p2);
	if (validate(&o, files, v)) { /* every line valid; schemas stable across seeds */
		CHECK_EQ_INT(v[0], 0);
		CHECK_EQ_INT(v[1], 0);
		CHECK(v[3] >= 1 && v[3] <= 4); /* int/float widened fields */
		CHECK(v[4] > 2000 && v[4] < 7000); /* fractional created_at */
	} else {
		fprintf(stderr, "test_gen: python3 missing, JSON validation skipped\n");
	}
	unlink(p1);
	unlink(p2);
	free(a);
	free(b);

	/* types honoured: exactly the first 7 names */
	kl_gen_opts_default(&o);
	o.events = 1000;
	o.types = 7;
	a = gen_mem(&o, &n1, NULL);
	CHECK_EQ_INT(check_stream(&o, a, n1), 7);
	free(a);

	/* malformed and duplicate lines: fractions, every rejection class, determinism */
	kl_gen_opts_default(&o);
	o.events = 20000;
	o.bad_fraction = 0.1;
	o.dup_fraction = 0.05;
	a = gen_mem(&o, &n1, p1);
	b = gen_mem(&o, &n2, NULL);
	CHECK(n1 == n2 && memcmp(a, b, n1) == 0);
	CHECK(memchr(a, '\0', n1) == NULL);
	uint64_t lines = 0;
	for (size_t i = 0; i < n1; i++)
		lines += a[i] == '\n';
	CHECK_EQ_INT(lines, o.events);
	if (validate(&o, p1, v)) {
		CHECK(v[0] > 1700 && v[0] < 2300);
		CHECK(v[1] > 750 && v[1] < 1250);
		CHECK_EQ_INT(v[2], 13);
	}
	unlink(p1);
	free(a);
	free(b);
	o.events = 0;
	a = gen_mem(&o, &n3, NULL);
	CHECK_EQ_INT(n3, 0);
	free(a);

	/* bad options and a failing fd */
	kl_gen_opts_default(&o);
	o.types = 0;
	CHECK_EQ_INT(kl_gen_write(&o, 1, &eb), KL_EINVAL);
	o.types = KL_GEN_MAX_TYPES + 1;
	CHECK_EQ_INT(kl_gen_write(&o, 1, NULL), KL_EINVAL);
	kl_gen_opts_default(&o);
	o.bad_fraction = 0.7;
	o.dup_fraction = 0.5;
	CHECK_EQ_INT(kl_gen_write(&o, 1, NULL), KL_EINVAL);
	kl_gen_opts_default(&o);
	o.start = KL_GEN_MAX_TS - 10;
	CHECK_EQ_INT(kl_gen_write(&o, 1, NULL), KL_EINVAL);
	kl_gen_opts_default(&o);
	o.events = 10;
	kl_errbuf_clear(&eb);
	CHECK_EQ_INT(kl_gen_write(&o, -1, &eb), KL_EIO);
	CHECK(strstr(eb.msg, "write") != NULL);
	return check_report("test_gen");
}
