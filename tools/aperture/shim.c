/* SPDX-License-Identifier: MIT */
/*
 * `aperture shim -s SCENARIO [--log FILE] [--mode auto|namespace|rewrite]
 *  -- PROGRAM ARGS...`: run an unmodified VFIO program on the scenario's
 * machine.
 *
 * The launcher checks the scenario, builds the file tree the program
 * expects (shimtree.c) and runs the program in a child with
 * libaperture-shim.so preloaded.  Two ways to show the tree:
 *
 *   namespace  a private mount namespace (unshare as root, or inside a new
 *              user namespace otherwise) where the tree's directories are
 *              bind-mounted over /dev/vfio, /sys/bus/pci/devices, ... ; a
 *              parent that lacks a directory (/dev/vfio on a host without
 *              VFIO) is shadowed: a copy of it on tmpfs with every original
 *              entry bound back in, plus ours.
 *   rewrite    where no namespace can be made: the tree stays in a staging
 *              directory and the shim rewrites the paths of the calls it
 *              intercepts (absolute paths only).
 *
 * The launcher waits for the program, removes the staging directory and
 * exits with the program's status (128 + N for a signal).
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim_cli.h"

enum mode { MODE_AUTO, MODE_NAMESPACE, MODE_REWRITE };

struct launch {
	const char *scenario;
	const char *log;
	enum mode mode;
	char **argv;
	char lib[PATH_MAX + 64];
	char logpath[PATH_MAX];
	char *text;
	size_t len;
	struct shim_tree tree;
};

static pid_t child_pid;

/* ------------------------------------------------------------ setup */

/* A wrong command line: what is wrong, then the usage (exit status 2). */
static int usage(const char *what, const char *word)
{
	fflush(stdout);
	fprintf(stderr, "aperture shim: %s%s%s%s\n", what, word ? " '" : "", word ? word : "",
		word ? "'" : "");
	fprintf(stderr, "usage: aperture shim -s SCENARIO [--log FILE] [--mode auto|namespace|"
			"rewrite] -- PROGRAM [ARGS...]\n");
	return 2;
}

static int parse_mode(struct launch *l, const char *val)
{
	if (!strcmp(val, "auto"))
		l->mode = MODE_AUTO;
	else if (!strcmp(val, "namespace"))
		l->mode = MODE_NAMESPACE;
	else if (!strcmp(val, "rewrite"))
		l->mode = MODE_REWRITE;
	else
		return usage("--mode is auto, namespace or rewrite, not", val);
	return 0;
}

static int parse(struct launch *l, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++) {
		const char *opt = argv[i];
		bool scn = !strcmp(opt, "-s") || !strcmp(opt, "--scenario");

		if (!scn && strcmp(opt, "--log") && strcmp(opt, "--mode"))
			return usage(opt[0] == '-' ? "unknown option" : "expected -- before PROGRAM, got",
				     opt);
		if (i + 1 >= argc)
			return usage("a value must follow", opt);
		if (scn)
			l->scenario = argv[++i];
		else if (!strcmp(opt, "--log"))
			l->log = argv[++i];
		else if (parse_mode(l, argv[++i]))
			return 2;
	}
	if (!l->scenario)
		return usage("-s SCENARIO is required", NULL);
	if (i + 1 >= argc)
		return usage("no PROGRAM after --", NULL);
	l->argv = argv + i + 1;
	return 0;
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 4096, n = 0;
	char *buf;

	if (!f)
		return -errno;
	buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		char *bigger = realloc(buf, cap * 2 + 1);

		if (!bigger) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	fclose(f);
	if (!buf)
		return -ENOMEM;
	buf[n] = '\0'; /* the scenario is text */
	*text = buf;
	*len = n;
	return 0;
}

/* The shim next to this executable (the build directory), or in ../lib
 * (an installation); APERTURE_SHIM_LIB overrides both. */
static int find_lib(struct launch *l)
{
	const char *env = getenv("APERTURE_SHIM_LIB");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(l->lib, sizeof(l->lib), "%s", env);
		return access(l->lib, R_OK) ? -errno : 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(l->lib, sizeof(l->lib), "%s/libaperture-shim.so", exe);
	if (!access(l->lib, R_OK))
		return 0;
	snprintf(l->lib, sizeof(l->lib), "%s/../lib/libaperture-shim.so", exe);
	return access(l->lib, R_OK) ? -ENOENT : 0;
}

/* ------------------------------------------------------------ namespace */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* A private mount namespace: as root directly, else inside a user
 * namespace that maps the caller to itself (so the program keeps its
 * identity).  The staging directory becomes a tmpfs of this namespace. */
static bool enter_namespace(const char *stage, char *why, size_t len)
{
	char map[64];

	if (geteuid() != 0 || unshare(CLONE_NEWNS)) {
		uid_t uid = geteuid();
		gid_t gid = getegid();

		if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
			snprintf(why, len, "unshare: %s", strerror(errno));
			return false;
		}
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		if (write_file("/proc/self/setgroups", "deny") ||
		    write_file("/proc/self/uid_map", map)) {
			snprintf(why, len, "user namespace: cannot map uid %u", (unsigned)uid);
			return false;
		}
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		if (write_file("/proc/self/gid_map", map)) {
			snprintf(why, len, "user namespace: cannot map gid %u", (unsigned)gid);
			return false;
		}
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("aperture", stage, "tmpfs", 0, "mode=0755")) {
		snprintf(why, len, "mount: %s", strerror(errno));
		return false;
	}
	return true;
}

#define MAX_SHADOWS 32
static char shadows[MAX_SHADOWS][PATH_MAX];
static unsigned nshadows;

static bool shadowed(const char *dir)
{
	for (unsigned i = 0; i < nshadows; i++)
		if (!strcmp(shadows[i], dir))
			return true;
	return false;
}

static void mark_shadowed(const char *dir)
{
	if (nshadows < MAX_SHADOWS)
		snprintf(shadows[nshadows++], PATH_MAX, "%s", dir);
}

static void parent_of(const char *path, char *out)
{
	snprintf(out, PATH_MAX, "%s", path);
	*strrchr(out, '/') = '\0';
	if (!*out)
		strcpy(out, "/");
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

/* A copy of dir on the staging tmpfs, mounted over it, with each original
 * entry bound back in (symbolic links copied): dir then takes new entries
 * while showing everything it had. */
static int shadow(const struct shim_tree *t, const char *dir)
{
	char copy[2 * PATH_MAX], from[PATH_MAX + 64], to[3 * PATH_MAX], link[PATH_MAX];
	int pfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
	struct dirent *e;
	int err = 0;

	snprintf(copy, sizeof(copy), "%s/.shadow%s", t->stage, dir);
	if (pfd < 0 || !d || mkdirs(copy)) {
		err = -errno;
		goto out;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(to, sizeof(to), "%s/%s", copy, e->d_name);
		if (fstatat(rfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(rfd, e->d_name, link, sizeof(link) - 1);

			if (n >= 0 && (link[n] = '\0', symlink(link, to)) && errno != EEXIST)
				err = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			mkdir(to, st.st_mode & 07777);
		} else {
			int fd = open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (fd >= 0)
				close(fd);
		}
	}
	if (err || mount(copy, dir, NULL, MS_BIND, NULL)) {
		err = err ? err : -errno;
		goto out;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fstatat(rfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || S_ISLNK(st.st_mode))
			continue;
		snprintf(from, sizeof(from), "/proc/self/fd/%d/%s", pfd, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name);
		/* an entry that cannot be bound back is left as its placeholder */
		mount(from, to, NULL, MS_BIND | MS_REC, NULL);
	}
	mark_shadowed(dir);
out:
	if (d)
		closedir(d);
	else if (rfd >= 0)
		close(rfd);
	if (pfd >= 0)
		close(pfd);
	return err;
}

/* Make dir a directory new entries may be made in: the deepest ancestor
 * that exists is shadowed, and what is missing below it is made on the
 * tmpfs (and so is writable as it is). */
static int make_room(const struct shim_tree *t, const char *dir)
{
	char have[PATH_MAX], want[PATH_MAX];
	struct stat st;
	int err = 0;

	snprintf(have, sizeof(have), "%s", dir);
	while (!shadowed(have) && stat(have, &st)) {
		char up[PATH_MAX];

		parent_of(have, up);
		snprintf(have, sizeof(have), "%s", up);
	}
	if (!shadowed(have))
		err = shadow(t, have);
	while (!err && strcmp(have, dir)) {
		size_t n = strlen(have) + (strcmp(have, "/") ? 1 : 0);
		const char *next = strchr(dir + n, '/');

		snprintf(want, sizeof(want), "%.*s", next ? (int)(next - dir) : (int)strlen(dir),
			 dir);
		if (mkdir(want, 0755) && errno != EEXIST)
			err = -errno;
		mark_shadowed(want);
		snprintf(have, sizeof(have), "%s", want);
	}
	return err;
}

static int graft_one(const struct shim_tree *t, const char *target)
{
	char src[PATH_MAX + 64], parent[PATH_MAX];
	struct stat st;
	int err;

	snprintf(src, sizeof(src), "%s%s", t->stage, target);
	if (mkdirs(src))
		return -errno;
	if (stat(target, &st) || !S_ISDIR(st.st_mode)) {
		parent_of(target, parent);
		err = make_room(t, parent);
		if (!err && mkdir(target, 0755) && errno != EEXIST)
			err = -errno;
		if (err)
			return err;
	}
	return mount(src, target, NULL, MS_BIND | MS_REC, NULL) ? -errno : 0;
}

static int graft_all(const struct shim_tree *t, char *why, size_t len)
{
	for (unsigned i = 0; i < t->ngrafts; i++) {
		int err = graft_one(t, t->grafts[i]);

		if (err) {
			snprintf(why, len, "grafting %s: %s", t->grafts[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ the child */

static void set_env(struct launch *l, bool ns)
{
	char grafts[SHIM_TREE_GRAFTS * 130] = "", *preload;
	const char *old = getenv("LD_PRELOAD");
	size_t at = 0;

	for (unsigned i = 0; i < l->tree.ngrafts; i++)
		at += (size_t)snprintf(grafts + at, sizeof(grafts) - at, "%s%s", i ? ":" : "",
				       l->tree.grafts[i]);
	setenv("APERTURE_SHIM_ROOT", l->tree.stage, 1);
	setenv("APERTURE_SHIM_MODE", ns ? "namespace" : "rewrite", 1);
	setenv("APERTURE_SHIM_GRAFTS", grafts, 1);
	if (l->log)
		setenv("APERTURE_SHIM_LOG", l->logpath, 1);
	if (old && *old && asprintf(&preload, "%s:%s", old, l->lib) > 0)
		setenv("LD_PRELOAD", preload, 1);
	else
		setenv("LD_PRELOAD", l->lib, 1);
}

static void describe_mode(const struct launch *l, bool ns, const char *why)
{
	if (ns)
		fprintf(stderr, "aperture shim: namespace mode: %u directories of /dev and /sys "
				"replaced in a private mount namespace\n", l->tree.ngrafts);
	else
		fprintf(stderr, "aperture shim: rewrite mode%s%s%s: the shim rewrites paths under "
				"/dev/vfio and /sys in the calls it intercepts\n", *why ? " (" : "",
			why, *why ? ")" : "");
}

static void run_child(struct launch *l, struct ap_ctx *ctx)
{
	char why[256] = "";
	bool ns = false;
	int err;

	if (l->mode != MODE_REWRITE)
		ns = enter_namespace(l->tree.stage, why, sizeof(why));
	if (!ns && l->mode == MODE_NAMESPACE) {
		fprintf(stderr, "aperture shim: no private mount namespace: %s\n", why);
		_exit(126);
	}
	err = shim_tree_build(&l->tree, ctx, l->text, l->len);
	if (err) {
		fprintf(stderr, "aperture shim: building the file tree in %s: %s\n", l->tree.stage,
			strerror(-err));
		_exit(126);
	}
	if (ns && graft_all(&l->tree, why, sizeof(why))) {
		if (l->mode == MODE_NAMESPACE) {
			fprintf(stderr, "aperture shim: %s\n", why);
			_exit(126);
		}
		ns = false;
	}
	describe_mode(l, ns, why);
	set_env(l, ns);
	execvp(l->argv[0], l->argv);
	fprintf(stderr, "aperture shim: %s: %s\n", l->argv[0], strerror(errno));
	_exit(127);
}

/* ------------------------------------------------------------ the parent */

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

static int wait_child(pid_t pid)
{
	struct sigaction sa = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };
	int status;

	child_pid = pid;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int prepare(struct launch *l, struct ap_ctx *ctx)
{
	const char *tmp = getenv("TMPDIR");
	int err = read_file(l->scenario, &l->text, &l->len);

	if (err) {
		fprintf(stderr, "aperture shim: %s: %s\n", l->scenario, strerror(-err));
		return 1;
	}
	if (ap_scenario_run(ctx, l->scenario, l->text, NULL, 0)) {
		fprintf(stderr, "aperture shim: %s\n", ap_ctx_error(ctx));
		return 1;
	}
	if (find_lib(l)) {
		fprintf(stderr, "aperture shim: cannot find libaperture-shim.so (next to aperture, in "
				"../lib, or APERTURE_SHIM_LIB)\n");
		return 1;
	}
	if (l->log) {
		int fd = open(l->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || !realpath(l->log, l->logpath)) {
			fprintf(stderr, "aperture shim: --log %s: %s\n", l->log, strerror(errno));
			return 1;
		}
		close(fd);
	}
	snprintf(l->tree.stage, sizeof(l->tree.stage), "%s/aperture-shim.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(l->tree.stage)) {
		fprintf(stderr, "aperture shim: %s: %s\n", l->tree.stage, strerror(errno));
		return 1;
	}
	return 0;
}

int ap_cli_shim(int argc, char **argv)
{
	struct launch *l = calloc(1, sizeof(*l));
	struct ap_ctx *ctx = ap_ctx_new();
	pid_t pid;
	int rc;

	if (!l || !ctx) {
		fprintf(stderr, "aperture shim: out of memory\n");
		free(l);
		ap_ctx_free(ctx);
		return 1;
	}
	rc = parse(l, argc, argv);
	if (!rc)
		rc = prepare(l, ctx);
	if (!rc) {
		fflush(NULL);
		pid = fork();
		if (pid == 0)
			run_child(l, ctx);
		if (pid < 0) {
			fprintf(stderr, "aperture shim: fork: %s\n", strerror(errno));
			rc = 1;
		} else {
			rc = wait_child(pid);
		}
		nftw(l->tree.stage, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	ap_ctx_free(ctx);
	free(l->text);
	free(l);
	return rc;
}
