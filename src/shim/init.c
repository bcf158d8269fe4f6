/* SPDX-License-Identifier: MIT */
/*
 * Setting the shim up, in two steps, lazily and re-entrantly (another
 * library's constructor may open files before ours runs):
 *
 *   light  the launcher's environment: where its tree is, which directories
 *          it grafted, the log.  Enough to tell whether a path is ours.
 *   ready  the machine: the scenario run into a context of this process,
 *          a memfd per emulated PCI function backing its BARs, the
 *          placeholders of the tree recognised by inode, the devices'
 *          runner thread, fork handlers.  Done on the first call that
 *          touches the tree.
 *
 * Environment (set by `aperture shim`): APERTURE_SHIM_ROOT (the tree, with
 * scenario.scn and manifest), APERTURE_SHIM_MODE (namespace | rewrite),
 * APERTURE_SHIM_GRAFTS (colon-separated directories the tree replaces),
 * APERTURE_SHIM_LOG (a file the log is appended to).
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <urcu-bp.h>

#include "shim.h"

#define REGION_SHIFT 40
#define MEMFD_FLOOR 512 /* the shim's own descriptors stay out of the way */

struct shim_state shim = { .log_fd = -1 };
pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t shim_calls = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
__thread int shim_depth;

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------ light */

static void parse_grafts(const char *list)
{
	while (list && *list && shim.ngrafts < SHIM_MAX_GRAFTS) {
		const char *end = strchr(list, ':');
		size_t n = end ? (size_t)(end - list) : strlen(list);

		if (n && n < sizeof(shim.grafts[0])) {
			memcpy(shim.grafts[shim.ngrafts], list, n);
			shim.grafts[shim.ngrafts++][n] = '\0';
		}
		list = end ? end + 1 : NULL;
	}
}

static void open_log(void)
{
	const char *path = getenv("APERTURE_SHIM_LOG");
	int fd;

	if (!path || !*path)
		return;
	fd = shim_real.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		int high = shim_real.fcntl(fd, F_DUPFD_CLOEXEC, MEMFD_FLOOR);

		if (high >= 0) {
			shim_real.close(fd);
			fd = high;
		}
	}
	shim.log_fd = fd;
}

bool shim_light(void)
{
	int st = __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE);
	const char *root, *mode;

	if (st != SHIM_UNINIT)
		return st != SHIM_OFF;
	shim_real_init();
	pthread_mutex_lock(&init_lock);
	if (shim.state == SHIM_UNINIT) {
		root = getenv("APERTURE_SHIM_ROOT");
		mode = getenv("APERTURE_SHIM_MODE");
		if (!root || !*root || strlen(root) >= sizeof(shim.root)) {
			__atomic_store_n(&shim.state, SHIM_OFF, __ATOMIC_RELEASE);
		} else {
			strcpy(shim.root, root);
			shim.mode = mode && !strcmp(mode, "rewrite") ? SHIM_REWRITE : SHIM_NAMESPACE;
			parse_grafts(getenv("APERTURE_SHIM_GRAFTS"));
			SHIM_ENTER();
			open_log();
			SHIM_LEAVE();
			__atomic_store_n(&shim.state, SHIM_LIGHT, __ATOMIC_RELEASE);
		}
	}
	st = shim.state;
	pthread_mutex_unlock(&init_lock);
	return st != SHIM_OFF;
}

/* ------------------------------------------------------------ the machine */

/* The placeholders the launcher listed: "container PATH", "group N PATH",
 * "debugfs BDF PATH", each known from then on by its inode. */
static void read_manifest(void)
{
	char path[PATH_MAX + 32], line[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/manifest", shim.root);
	f = shim_real.fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && shim.nplaces < SHIM_MAX_PLACES) {
		struct place *p = &shim.places[shim.nplaces];
		char kind[16], arg[64], where[PATH_MAX], buf[PATH_MAX];
		struct stat st;
		int n = sscanf(line, "%15s %63s %4095s", kind, arg, where);

		memset(p, 0, sizeof(*p));
		if (n == 2 && !strcmp(kind, "container")) {
			p->kind = PLACE_CONTAINER;
			strcpy(where, arg);
		} else if (n == 3 && !strcmp(kind, "group")) {
			p->kind = PLACE_GROUP;
			p->group = (int)strtol(arg, NULL, 10);
		} else if (n == 3 && !strcmp(kind, "debugfs") && strlen(arg) < sizeof(p->bdf)) {
			p->kind = PLACE_DEBUGFS;
			strcpy(p->bdf, arg);
		} else {
			continue;
		}
		if (shim_real.stat(shim_path(where, buf), &st))
			continue;
		p->dev = st.st_dev;
		p->ino = st.st_ino;
		shim.nplaces++;
	}
	fclose(f);
}

/* A memfd of the function's regions; its BARs become the model's memory. */
static int pci_memfd(struct ap_pci *pci)
{
	struct shim_pci *sp = &shim.pcis[shim.npcis];
	char name[32];
	struct stat st;
	int fd, high;

	snprintf(name, sizeof(name), "aperture:%s", ap_pci_name(pci));
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)((uint64_t)SHIM_REGIONS << REGION_SHIFT))) {
		shim_real.close(fd);
		return -errno;
	}
	high = shim_real.fcntl(fd, F_DUPFD_CLOEXEC, MEMFD_FLOOR);
	if (high >= 0) {
		shim_real.close(fd);
		fd = high;
	}
	for (unsigned n = 0; n < AP_PCI_BARS; n++) {
		uint64_t size;
		void *p;

		if (!ap_pci_bar(pci, n, &size))
			continue;
		p = shim_real.mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				   (off_t)((uint64_t)n << REGION_SHIFT));
		if (p == MAP_FAILED || ap_pci_bar_set_backing(pci, n, p)) {
			shim_real.close(fd);
			return -ENOMEM;
		}
	}
	fstat(fd, &st);
	*sp = (struct shim_pci){ .pci = pci, .memfd = fd, .dev = st.st_dev, .ino = st.st_ino };
	shim.npcis++;
	ap_pci_set_fault_handler(pci, shim_fault_handler, NULL);
	return 0;
}

/* The runner polls the devices only in the process that owns them (the
 * last to make a VFIO request, or the survivor), as a call into the
 * library. */
static bool runner_hook(void *arg, bool enter)
{
	(void)arg;
	if (enter) {
		int owner = __atomic_load_n(shim.owner, __ATOMIC_ACQUIRE), me = getpid();

		if (owner != me) {
			if (!(kill(owner, 0) < 0 && errno == ESRCH))
				return false;
			__atomic_compare_exchange_n(shim.owner, &owner, me, false, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
		}
		shim_calls_enter();
		return true;
	}
	shim_calls_leave();
	return true;
}

void shim_claim(void)
{
	if (shim.owner)
		__atomic_store_n(shim.owner, getpid(), __ATOMIC_RELEASE);
}

/* fork(2): the machine is copied at a quiet point; the child gets an
 * engine thread of its own.  liburcu's bulletproof flavour, which the
 * library's RCU uses, asks for the same three calls. */
static void fork_prepare(void)
{
	pthread_rwlock_wrlock(&shim_calls);
	pthread_mutex_lock(&shim_lock);
	ap_pci_fork_prepare(shim.ctx);
	urcu_bp_before_fork();
}

static void fork_parent(void)
{
	urcu_bp_after_fork_parent();
	ap_pci_fork_parent(shim.ctx);
	pthread_mutex_unlock(&shim_lock);
	pthread_rwlock_unlock(&shim_calls);
}

static void fork_child(void)
{
	pthread_rwlockattr_t attr;

	urcu_bp_after_fork_child();
	pthread_mutex_init(&shim_lock, NULL);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&shim_calls, &attr);
	pthread_rwlockattr_destroy(&attr);
	ap_pci_fork_child(shim.ctx);
}

static int load(void)
{
	char path[PATH_MAX + 32];
	int err;

	shim.ctx = ap_ctx_new();
	if (!shim.ctx)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/scenario.scn", shim.root);
	err = ap_scenario_run_file(shim.ctx, path, NULL, 0);
	if (err) {
		shim_log("aperture-shim: the scenario failed: %s", ap_ctx_error(shim.ctx));
		fprintf(stderr, "aperture-shim: %s\n", ap_ctx_error(shim.ctx));
		return err;
	}
	for (struct ap_pci *pci = ap_pci_next(shim.ctx, NULL); pci && shim.npcis < SHIM_MAX_PCI;
	     pci = ap_pci_next(shim.ctx, pci)) {
		err = pci_memfd(pci);
		if (err)
			return err;
	}
	shim.owner = shim_real.mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shim.owner == MAP_FAILED) {
		shim.owner = NULL;
		return -ENOMEM;
	}
	*shim.owner = getpid();
	read_manifest();
	err = ap_pci_start(shim.ctx, runner_hook, NULL);
	if (err)
		return err;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	return 0;
}

bool shim_ready(void)
{
	int st;

	if (!shim_light())
		return false;
	st = __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE);
	if (st == SHIM_READY)
		return true;
	if (st == SHIM_OFF || shim_depth)
		return false;
	pthread_mutex_lock(&init_lock);
	if (shim.state == SHIM_LIGHT) {
		int err;

		SHIM_ENTER();
		err = load();
		SHIM_LEAVE();
		if (err)
			shim_log("aperture-shim: nothing is emulated: %s", strerror(-err));
		__atomic_store_n(&shim.state, err ? SHIM_OFF : SHIM_READY, __ATOMIC_RELEASE);
	}
	st = shim.state;
	pthread_mutex_unlock(&init_lock);
	return st == SHIM_READY;
}

/* The launcher's environment stays for the program's children (each loads
 * the machine afresh if it touches it); nothing is done at load beyond
 * the light step, which only reads the environment. */
__attribute__((constructor)) static void shim_constructor(void)
{
	shim_light();
}
