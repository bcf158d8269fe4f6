/* SPDX-License-Identifier: MIT */
/*
 * Inside libaperture-shim.so, the preload library that runs an unmodified
 * VFIO program on aperture: the process-wide state, the real libc entry
 * points, the file table that ties the program's file descriptors to VFIO
 * handles of the library, and the log.
 *
 * Every interposed function first asks shim_active(): a thread inside the
 * shim (or inside the library the shim calls) and a process without the
 * launcher's environment go straight to the real function.
 */
#ifndef AP_SHIM_H
#define AP_SHIM_H

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <aperture/aperture.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_MAX_FD 65536       /* descriptors above are never the shim's */
#define SHIM_MAX_GRAFTS 16
#define SHIM_MAX_PLACES 256
#define SHIM_MAX_PCI 64
#define SHIM_REGIONS 9          /* vfio-pci's standard regions */

/* ------------------------------------------------------------ real libc */

struct shim_real {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	FILE *(*fopen)(const char *, const char *);
	FILE *(*fopen64)(const char *, const char *);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	void *(*mmap64)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pread64)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*pwrite64)(int, const void *, size_t, off_t);
	int (*stat)(const char *, struct stat *);
	int (*lstat)(const char *, struct stat *);
	int (*stat64)(const char *, struct stat *);
	int (*lstat64)(const char *, struct stat *);
	int (*fstatat)(int, const char *, struct stat *, int);
	int (*fstatat64)(int, const char *, struct stat *, int);
	int (*xstat)(int, const char *, struct stat *);
	int (*lxstat)(int, const char *, struct stat *);
	int (*xstat64)(int, const char *, struct stat *);
	int (*lxstat64)(int, const char *, struct stat *);
	int (*statx)(int, const char *, int, unsigned, void *);
	int (*access)(const char *, int);
	int (*faccessat)(int, const char *, int, int);
	ssize_t (*readlink)(const char *, char *, size_t);
	ssize_t (*readlinkat)(int, const char *, char *, size_t);
	void *(*opendir)(const char *);
	char *(*realpath)(const char *, char *);
};

extern struct shim_real shim_real;
/* Resolve every real function (dlsym RTLD_NEXT); safe to call again. */
void shim_real_init(void);

/* ------------------------------------------------------------ state */

enum shim_mode { SHIM_NAMESPACE = 1, SHIM_REWRITE = 2 };

/* What a placeholder file of the launcher's tree stands for. */
enum place_kind { PLACE_CONTAINER = 1, PLACE_GROUP, PLACE_DEBUGFS };

struct place {
	enum place_kind kind;
	int group;              /* PLACE_GROUP */
	char bdf[13];           /* PLACE_DEBUGFS */
	dev_t dev;
	ino_t ino;
};

/* An emulated function: one memfd holds its regions at vfio-pci's
 * offsets (index << 40), so the program's BAR mmaps share the model's. */
struct shim_pci {
	struct ap_pci *pci;
	int memfd;              /* the shim's own descriptor, kept high */
	dev_t dev;
	ino_t ino;
};

struct shim_state {
	int state;              /* SHIM_* below */
	enum shim_mode mode;
	char root[PATH_MAX];    /* the launcher's tree */
	char grafts[SHIM_MAX_GRAFTS][128];
	unsigned ngrafts;
	int log_fd;             /* -1: no log */
	struct ap_ctx *ctx;
	struct place places[SHIM_MAX_PLACES];
	unsigned nplaces;
	struct shim_pci pcis[SHIM_MAX_PCI];
	unsigned npcis;
	int *owner;             /* shared page: the pid whose engine runs */
};

#define SHIM_UNINIT 0
#define SHIM_LIGHT 1    /* environment read: paths can be matched */
#define SHIM_READY 2    /* the machine is loaded */
#define SHIM_OFF 3      /* not under the launcher, or the load failed */

extern struct shim_state shim;
extern __thread int shim_depth;

/*
 * Locks, outermost first (src/vfio and src/pci lock themselves, so calls
 * into the library run side by side):
 *   shim_calls  read-held by every call into the library, each round of
 *               the devices' runner and each trapped store; write-held by
 *               fork(2), so that the child is copied with no library call
 *               half done (it would inherit the library's locks held).
 *               Writers go first: a busy program cannot starve a fork.
 *   shim_lock   the file table and the files' lifetimes, held briefly; a
 *               file's library handle is closed after it is dropped.
 */
extern pthread_rwlock_t shim_calls;
extern pthread_mutex_t shim_lock;

/* Inside the shim, with shim_calls read-held; and out again. */
void shim_calls_enter(void);
void shim_calls_leave(void);
/* shim_lock; unlocking closes the handles of files that went meanwhile. */
void shim_table_lock(void);
void shim_table_unlock(void);

/* Light setup (environment only), for path matching; false: not active. */
bool shim_light(void);
/* The machine loaded; false if it cannot be (then nothing is emulated). */
bool shim_ready(void);
/* This process makes VFIO requests now: its engines run the devices. */
void shim_claim(void);

/* Inside the shim: calls the shim makes go to the real functions. */
#define SHIM_ENTER() (shim_depth++)
#define SHIM_LEAVE() (shim_depth--)

/* ------------------------------------------------------------ files */

enum shim_kind { SF_CONTAINER = 1, SF_GROUP, SF_DEVICE };

struct shim_file {
	enum shim_kind kind;
	int handle;             /* the library's VFIO handle */
	int refs;               /* descriptors of this process naming it */
	dev_t dev;
	ino_t ino;
	struct shim_pci *sp;    /* SF_DEVICE */
	int group;              /* SF_GROUP */
	int busy;               /* calls using it (it outlives its descriptors) */
	struct shim_file *dead; /* files whose handles wait to be closed */
};

/* The shim file behind fd (checked against the file fd names now), or
 * NULL; lock held. */
struct shim_file *shim_file_get(int fd);
/* The shim file behind fd, kept for a call until shim_file_put(), or
 * NULL; shim_calls held, shim_lock not. */
struct shim_file *shim_file_hold(int fd);
void shim_file_put(struct shim_file *f);
/* Whether fd might be the shim's (no lock; a fast filter). */
bool shim_fd_maybe(int fd);
void shim_file_set(int fd, struct shim_file *f);
/* fd is closed or reused: drop its reference (shim_lock held). */
void shim_file_drop(int fd);
/* fd (just opened) is a placeholder: make it the object it stands for.
 * Returns fd, or -1 with errno (fd closed then). */
int shim_adopt(int fd, const char *path, int flags);
/* A placeholder's kind for an open file, or NULL. */
const struct place *shim_place_of(int fd);
/* The emulated function of a device handle. */
struct shim_pci *shim_pci_of(const struct ap_pci *pci);

/* ------------------------------------------------------------ paths */

/* Whether path (absolute) lies under a grafted directory. */
bool shim_path_grafted(const char *path);
/* The path to use for the real call: in rewrite mode a grafted absolute
 * path moves under the tree; else path itself.  buf has PATH_MAX bytes. */
const char *shim_path(const char *path, char *buf);
/* Undo shim_path for a path the real call returned (realpath). */
void shim_path_unrewrite(char *path);

/* ------------------------------------------------------------ traps */

/* Record the program's mapping of a BAR and, if writable, write-protect
 * it so that each store is acted on before the next instruction (trap.c);
 * and forget the mappings a range overlaps (true if there were any). */
void shim_trap_add(void *addr, size_t len, int prot, struct ap_pci *pci);
bool shim_trap_remove(void *addr, size_t len);

/* ------------------------------------------------------------ debugfs */

/* A memfd holding domain_translation_struct of function bdf, rendered
 * now from its domain's tables; -1 and errno. */
int shim_debugfs_render(const char *bdf);

/* ------------------------------------------------------------ log */

void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool shim_logging(void);
/* The request's name and its argument, decoded; buf of len. */
void shim_ioctl_describe(unsigned kind, unsigned long req, const void *arg, bool after, int rc,
			 char *buf, size_t len);
/* "= 3", "= -1 EINVAL (reason)". */
void shim_result(char *buf, size_t len, long rc, int err);
/* Log the IOMMU's faults an engine met. */
void shim_fault_handler(void *arg, struct ap_pci *pci, const struct ap_fault *fault);

#endif /* AP_SHIM_H */
