/* store_local.c — a lake on the local disk; see store.h.
 *
 * Durable-write recipe (as Redis does for its RDB): write to a dot-file in
 * the target directory, fdatasync, rename over the final name; sync() then
 * fsyncs each directory touched since the last sync. A crash leaves at most
 * dot-files ".<name>.tmp-<pid>", which kl_store_local_sweep() removes. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct local_store {
	struct kl_store base;
	char *root;
	char **dirty; /* directories with renamed entries, not yet fsynced */
	size_t ndirty, capdirty;
};

struct kl_store_file {
	struct local_store *s;
	int fd;
	uint64_t bytes;
	char *tmp, *final;
};

int kl_store_write_cb(void *ctx, const void *p, size_t n)
{
	struct kl_store_file *f = ctx;
	return f->s->base.ops->write(f, p, n);
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc && errno != EEXIST)
			return -1;
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

static int note_dirty(struct local_store *s, const char *dir)
{
	for (size_t i = 0; i < s->ndirty; i++)
		if (!strcmp(s->dirty[i], dir))
			return 0;
	if (s->ndirty == s->capdirty) {
		size_t cap = s->capdirty ? s->capdirty * 2 : 64;
		char **d = realloc(s->dirty, cap * sizeof *d);
		if (!d)
			return KL_ENOMEM;
		s->dirty = d;
		s->capdirty = cap;
	}
	if (!(s->dirty[s->ndirty] = strdup(dir)))
		return KL_ENOMEM;
	s->ndirty++;
	return 0;
}

static int local_open(struct kl_store *base, const char *key, struct kl_store_file **out)
{
	struct local_store *s = (struct local_store *)base;
	struct kl_store_file *f = calloc(1, sizeof *f);
	size_t n = strlen(s->root) + strlen(key) + 64;
	if (!f || !(f->final = malloc(n)) || !(f->tmp = malloc(n))) {
		if (f)
			free(f->final);
		free(f);
		return kl_errbuf_set(&base->err, KL_ENOMEM, "out of memory opening %s", key);
	}
	f->s = s;
	snprintf(f->final, n, "%s/%s", s->root, key);
	char *slash = strrchr(f->final, '/');
	*slash = '\0';
	if (mkdir_p(f->final)) {
		int e = errno;
		*slash = '/';
		kl_errbuf_set(&base->err, KL_EIO, "mkdir %s: %s", f->final, strerror(e));
		free(f->tmp);
		free(f->final);
		free(f);
		return KL_EIO;
	}
	snprintf(f->tmp, n, "%s/.%s.tmp-%ld", f->final, slash + 1, (long)getpid());
	*slash = '/';
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		kl_errbuf_set(&base->err, KL_EIO, "create %s: %s", f->tmp, strerror(errno));
		free(f->tmp);
		free(f->final);
		free(f);
		return KL_EIO;
	}
	*out = f;
	return KL_OK;
}

static int local_write(struct kl_store_file *f, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(f->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return kl_errbuf_set(&f->s->base.err, KL_EIO, "write %s: %s", f->tmp,
					     strerror(errno));
		c += w;
		n -= (size_t)w;
		f->bytes += (uint64_t)w;
	}
	return KL_OK;
}

static void file_free(struct kl_store_file *f)
{
	free(f->tmp);
	free(f->final);
	free(f);
}

static int local_commit(struct kl_store_file *f)
{
	struct local_store *s = f->s;
	int rc = KL_OK;
	if (fdatasync(f->fd))
		rc = kl_errbuf_set(&s->base.err, KL_EIO, "fsync %s: %s", f->tmp, strerror(errno));
	if (close(f->fd) && !rc)
		rc = kl_errbuf_set(&s->base.err, KL_EIO, "close %s: %s", f->tmp, strerror(errno));
	if (!rc && rename(f->tmp, f->final))
		rc = kl_errbuf_set(&s->base.err, KL_EIO, "rename %s: %s", f->final, strerror(errno));
	if (rc) {
		unlink(f->tmp);
	} else {
		char *slash = strrchr(f->final, '/');
		*slash = '\0';
		rc = note_dirty(s, f->final);
		s->base.files_committed++;
		s->base.bytes_committed += f->bytes;
	}
	file_free(f);
	return rc;
}

static void local_abort(struct kl_store_file *f)
{
	close(f->fd);
	unlink(f->tmp);
	file_free(f);
}

static int local_sync(struct kl_store *base)
{
	struct local_store *s = (struct local_store *)base;
	int rc = KL_OK;
	for (size_t i = 0; i < s->ndirty; i++) {
		int fd = open(s->dirty[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd))
			rc = kl_errbuf_set(&base->err, KL_EIO, "fsync dir %s: %s", s->dirty[i],
					   strerror(errno));
		if (fd >= 0)
			close(fd);
		free(s->dirty[i]);
	}
	s->ndirty = 0;
	return rc;
}

static int local_read(struct kl_store *base, const char *key, struct kl_buf *out)
{
	struct local_store *s = (struct local_store *)base;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", s->root, key);
	kl_buf_reset(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KL_ENOTFOUND
				       : kl_errbuf_set(&base->err, KL_EIO, "open %s: %s", path,
						       strerror(errno));
	for (;;) {
		if (kl_buf_reserve(out, 65536)) {
			close(fd);
			return KL_ENOMEM;
		}
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return kl_errbuf_set(&base->err, KL_EIO, "read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	close(fd);
	return KL_OK;
}

static int valid_dir(const char *dir)
{
	size_t n = strlen(dir);
	if (n == 0)
		return 1;
	if (dir[0] == '/' || dir[n - 1] != '/')
		return 0;
	for (const char *p = dir; *p;) { /* no "." or ".." level, no empty level */
		size_t l = strcspn(p, "/");
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += l + (p[l] == '/');
	}
	return 1;
}

static int local_list(struct kl_store *base, const char *dir, kl_store_list_fn fn, void *ctx)
{
	struct local_store *s = (struct local_store *)base;
	if (!valid_dir(dir))
		return kl_errbuf_set(&base->err, KL_EINVAL, "list: bad directory key \"%.100s\"",
				     dir);
	struct kl_buf path, key;
	kl_buf_init(&path, 0);
	kl_buf_init(&key, 0);
	int rc = kl_buf_printf(&path, "%s/%s", s->root, dir);
	DIR *d = rc ? NULL : opendir(path.data);
	if (!rc && !d && errno != ENOENT && errno != ENOTDIR)
		rc = kl_errbuf_set(&base->err, KL_EIO, "list %s: %s", path.data, strerror(errno));
	for (struct dirent *e; d && !rc;) {
		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				rc = kl_errbuf_set(&base->err, KL_EIO, "list %s: %s", path.data,
						   strerror(errno));
			break;
		}
		if (e->d_name[0] == '.') /* ".", "..", and our temporary files */
			continue;
		int is_dir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
			struct stat st;
			size_t l = path.len;
			if ((rc = kl_buf_printf(&path, "%s", e->d_name)))
				break;
			is_dir = !stat(path.data, &st) && S_ISDIR(st.st_mode);
			path.len = l;
			path.data[l] = '\0';
		}
		kl_buf_reset(&key);
		rc = kl_buf_printf(&key, "%s%s%s", dir, e->d_name, is_dir ? "/" : "");
		if (!rc)
			rc = fn(ctx, key.data, key.len);
	}
	if (d)
		closedir(d);
	kl_buf_cleanup(&path);
	kl_buf_cleanup(&key);
	return rc;
}

static void local_free(struct kl_store *base)
{
	struct local_store *s = (struct local_store *)base;
	for (size_t i = 0; i < s->ndirty; i++)
		free(s->dirty[i]);
	free(s->dirty);
	free(s->root);
	free(s);
}

static const struct kl_store_ops local_ops = {
    .open = local_open,
    .write = local_write,
    .commit = local_commit,
    .abort = local_abort,
    .sync = local_sync,
    .read = local_read,
    .list = local_list,
    .free = local_free,
};

int kl_store_local_new(struct kl_store **out, const char *root, struct kl_errbuf *eb)
{
	struct local_store *s = calloc(1, sizeof *s);
	if (!s || !(s->root = strdup(root))) {
		free(s);
		return kl_errbuf_set(eb, KL_ENOMEM, "out of memory");
	}
	size_t n = strlen(s->root);
	while (n > 1 && s->root[n - 1] == '/')
		s->root[--n] = '\0';
	if (mkdir_p(s->root)) {
		int rc = kl_errbuf_set(eb, KL_EIO, "cannot create lake directory %s: %s", root,
				       strerror(errno));
		free(s->root);
		free(s);
		return rc;
	}
	s->base.ops = &local_ops;
	*out = &s->base;
	return KL_OK;
}

static void sweep(char *path, size_t len, size_t cap, uint64_t *removed)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t n = strlen(e->d_name);
		if (len + n + 2 > cap)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, e->d_name, n + 1);
		if (e->d_type == DT_DIR) {
			sweep(path, len + 1 + n, cap, removed);
		} else if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-")) {
			/* leave temp files of a live writer (another ingest) alone */
			long pid = atol(strstr(e->d_name, ".tmp-") + 5);
			int alive = pid > 0 && pid != (long)getpid() &&
				    (kill((pid_t)pid, 0) == 0 || errno == EPERM);
			if (!alive && !unlink(path))
				(*removed)++;
		}
		path[len] = '\0';
	}
	closedir(d);
}

int kl_store_local_sweep(const char *root, uint64_t *removed)
{
	char path[4096];
	size_t n = strlen(root);
	if (n >= sizeof path)
		return KL_EINVAL;
	memcpy(path, root, n + 1);
	*removed = 0;
	sweep(path, n, sizeof path, removed);
	return KL_OK;
}
