/* SPDX-License-Identifier: MIT */
/*
 * The C library entry points a VFIO program uses, interposed.  Each goes
 * straight to the real function unless it concerns the shim: a path in
 * the launcher's tree, or a descriptor that is a VFIO object.  Then the
 * request goes to the library (ap_vfio_*), which locks itself (calls on
 * several threads run side by side; shim.h has the shim's own locks), and
 * comes back with the errno the kernel would set.  A request a VFIO file
 * does not know is the library's ENOTTY; nothing the program passes is
 * dereferenced before it is known to be readable (EFAULT otherwise), and
 * the argument of a two-argument ioctl (VFIO_GET_API_VERSION) is never
 * read at all.
 *
 * Not intercepted, on purpose: read/poll/epoll/select of the eventfds the
 * devices signal (they are the program's own kernel eventfds, written by
 * the devices' thread, so every way of waiting works), and read/write at
 * the file position of a device file (vfio-pci programs use pread/pwrite).
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "shim.h"

#define REGION_SHIFT 40
#define PROBE_MAX (1u << 20)

/* ------------------------------------------------------------ helpers */

/* Opening, closing and duplicating change the file table: the library
 * calls they make (opening and closing handles) run under shim_lock. */
static void lock(void)
{
	shim_calls_enter();
	shim_table_lock();
}

static void unlock(void)
{
	shim_table_unlock();
	shim_calls_leave();
}

/* Whether [p, p+len) can be read, as copy_from_user would find out: a
 * read through process_vm_readv fails with EFAULT where memory is not
 * there.  Where that call is not allowed, the answer is yes. */
static bool readable(const void *p, size_t len)
{
	char scratch[512] = { 0 };
	uintptr_t at = (uintptr_t)p;

	if (!p)
		return false;
	if (len > PROBE_MAX)
		len = PROBE_MAX;
	while (len) {
		size_t n = len < sizeof(scratch) ? len : sizeof(scratch);
		struct iovec local = { scratch, n }, remote = { (void *)at, n };

		if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0)
			return errno != EFAULT;
		at += n;
		len -= n;
	}
	return true;
}

/* A NUL-terminated string of at most max bytes can be read: page by page,
 * the rest of each page at once. */
static bool readable_string(const char *s, size_t max)
{
	for (size_t at = 0; at < max;) {
		size_t n = 4096 - ((uintptr_t)(s + at) & 4095);

		if (!readable(s + at, n))
			return false;
		if (memchr(s + at, '\0', n))
			return true;
		at += n;
	}
	return true;
}

static const char *kind_name(const struct shim_file *f)
{
	switch (f->kind) {
	case SF_CONTAINER:
		return "container";
	case SF_GROUP:
		return "group";
	default:
		return "device";
	}
}

/* ------------------------------------------------------------ open */

/* Which real open a call goes to. */
enum open_which { W_OPEN, W_OPEN64, W_OPENAT, W_OPENAT64, W_OPEN2, W_OPEN64_2, W_OPENAT2,
		  W_OPENAT64_2 };

static int real_open_call(enum open_which w, int dirfd, const char *path, int flags,
			  mode_t mode)
{
	switch (w) {
	case W_OPEN:
		return shim_real.open(path, flags, mode);
	case W_OPEN64:
		return shim_real.open64(path, flags, mode);
	case W_OPENAT:
		return shim_real.openat(dirfd, path, flags, mode);
	case W_OPENAT64:
		return shim_real.openat64(dirfd, path, flags, mode);
	case W_OPEN2:
		return shim_real.open_2(path, flags);
	case W_OPEN64_2:
		return shim_real.open64_2(path, flags);
	case W_OPENAT2:
		return shim_real.openat_2(dirfd, path, flags);
	default:
		return shim_real.openat64_2(dirfd, path, flags);
	}
}

/* Every open: the real one (on the tree's copy in rewrite mode), then, if
 * the file is a placeholder, the object it stands for. */
static int do_open(enum open_which w, int dirfd, const char *path, int flags, mode_t mode)
{
	char buf[PATH_MAX];
	bool grafted, relative;
	int fd, err, saved = errno;

	if (shim_depth || !shim_light())
		return real_open_call(w, dirfd, path, flags, mode);
	grafted = shim_path_grafted(path);
	relative = path && path[0] != '/';
	if (!grafted && !(relative && __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_READY))
		return real_open_call(w, dirfd, path, flags, mode);
	if (grafted)
		shim_ready();
	fd = real_open_call(w, dirfd, shim_path(path, buf), flags, mode);
	err = errno;
	if (fd >= 0 && __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_READY) {
		lock();
		errno = 0;
		fd = shim_adopt(fd, path, flags);
		err = errno;
		if (grafted || shim_fd_maybe(fd)) {
			char res[512];
			struct shim_file *f = fd >= 0 ? shim_file_get(fd) : NULL;

			shim_result(res, sizeof(res), fd, err);
			shim_log("open(\"%s\", 0x%x) %s%s%s", path, flags, res, f ? " " : "",
				 f ? kind_name(f) : "");
		}
		unlock();
	} else if (grafted) {
		char res[128];

		shim_result(res, sizeof(res), fd, err);
		shim_log("open(\"%s\", 0x%x) %s", path, flags, res);
	}
	errno = fd < 0 ? err : saved; /* a call that succeeds leaves errno alone */
	return fd;
}

/* open's mode argument is there only when the flags create a file. */
static mode_t open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	shim_real_init();
	return do_open(W_OPEN, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	shim_real_init();
	return do_open(W_OPEN64, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	shim_real_init();
	return do_open(W_OPENAT, dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	shim_real_init();
	return do_open(W_OPENAT64, dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name
int __open64_2(const char *path, int flags); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name
int __openat_2(int dirfd, const char *path, int flags); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name
int __openat64_2(int dirfd, const char *path, int flags); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name

SHIM_EXPORT int __open_2(const char *path, int flags)
{
	shim_real_init();
	return do_open(W_OPEN2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	shim_real_init();
	return do_open(W_OPEN64_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	shim_real_init();
	return do_open(W_OPENAT2, dirfd, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	shim_real_init();
	return do_open(W_OPENAT64_2, dirfd, path, flags, 0);
}

/* fopen opens below the C library's interposable entry points, so the
 * placeholder is taken over through the stream's descriptor. */
static FILE *do_fopen(FILE *(*fn)(const char *, const char *), const char *path,
		      const char *mode)
{
	char buf[PATH_MAX];
	FILE *f;
	int err;

	shim_real_init();
	if (shim_depth || !shim_light() || !shim_path_grafted(path))
		return fn(path, mode);
	shim_ready();
	f = fn(shim_path(path, buf), mode);
	err = errno;
	if (f && __atomic_load_n(&shim.state, __ATOMIC_ACQUIRE) == SHIM_READY) {
		lock();
		if (shim_adopt(fileno(f), path, strchr(mode, 'e') ? O_CLOEXEC : 0) < 0) {
			err = errno;
			fclose(f);
			f = NULL;
		}
		unlock();
	}
	shim_log("fopen(\"%s\", \"%s\") = %s%s%s", path, mode, f ? "ok" : "NULL",
		 f ? "" : " ", f ? "" : ap_errno_name(err));
	errno = err;
	return f;
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
	shim_real_init();
	return do_fopen(shim_real.fopen, path, mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	shim_real_init();
	return do_fopen(shim_real.fopen64, path, mode);
}

/* ------------------------------------------------------------ close, dup */

SHIM_EXPORT int close(int fd)
{
	shim_real_init();
	if (!shim_depth && shim_fd_maybe(fd)) {
		struct shim_file *f;
		int saved = errno;

		lock();
		f = shim_file_get(fd);
		if (f) {
			shim_log("close(%d) %s", fd, kind_name(f));
			shim_file_drop(fd);
		}
		unlock();
		errno = saved;
	}
	return shim_real.close(fd);
}

/* newfd now names what oldfd names (dup, dup2, dup3, F_DUPFD). */
static void duplicated(int oldfd, int newfd, const char *how)
{
	struct shim_file *f;
	int saved = errno;

	if (newfd < 0 || oldfd == newfd || shim_depth)
		return;
	if (!shim_fd_maybe(oldfd) && !shim_fd_maybe(newfd))
		return;
	lock();
	shim_file_drop(newfd); /* what newfd named before is closed */
	f = shim_file_get(oldfd);
	if (f && newfd < SHIM_MAX_FD) {
		f->refs++;
		shim_file_set(newfd, f);
		shim_log("%s(%d) = %d %s", how, oldfd, newfd, kind_name(f));
	}
	unlock();
	errno = saved;
}

SHIM_EXPORT int dup(int fd)
{
	int nfd;

	shim_real_init();
	nfd = shim_real.dup(fd);
	if (nfd >= 0) {
		int err = errno;

		duplicated(fd, nfd, "dup");
		errno = err;
	}
	return nfd;
}

SHIM_EXPORT int dup2(int fd, int nfd)
{
	int rc;

	shim_real_init();
	rc = shim_real.dup2(fd, nfd);
	if (rc >= 0)
		duplicated(fd, rc, "dup2");
	return rc;
}

SHIM_EXPORT int dup3(int fd, int nfd, int flags)
{
	int rc;

	shim_real_init();
	rc = shim_real.dup3(fd, nfd, flags);
	if (rc >= 0)
		duplicated(fd, rc, "dup3");
	return rc;
}

static int do_fcntl(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	int rc = fn(fd, cmd, arg);

	if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
		int err = errno;

		duplicated(fd, rc, "fcntl(F_DUPFD)");
		errno = err;
	}
	return rc;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_real_init();
	return do_fcntl(shim_real.fcntl, fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_real_init();
	return do_fcntl(shim_real.fcntl64 ? shim_real.fcntl64 : shim_real.fcntl, fd, cmd, arg);
}

/* ------------------------------------------------------------ ioctl */

/* Requests whose argument is a struct that starts with argsz, by file
 * type (the numbers repeat across types: a container's MAP_DMA is a
 * device's PCI_HOT_RESET). */
static bool struct_request(enum shim_kind kind, unsigned long req)
{
	static const unsigned long container[] = {
		VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,
		VFIO_IOMMU_DIRTY_PAGES,
	};
	static const unsigned long device[] = {
		VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO,
		VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET,
		VFIO_DEVICE_IOEVENTFD, VFIO_DEVICE_FEATURE,
	};
	const unsigned long *list = kind == SF_CONTAINER ? container : device;
	size_t n = kind == SF_CONTAINER ? sizeof(container) / sizeof(container[0])
					: sizeof(device) / sizeof(device[0]);

	if (kind == SF_GROUP)
		return req == VFIO_GROUP_GET_STATUS;
	for (size_t i = 0; i < n; i++)
		if (list[i] == req)
			return true;
	return false;
}

/* The argument of a VFIO request is there to read (argsz first, then up to
 * argsz bytes).  Requests the file does not know are not looked at: the
 * library answers them ENOTTY without touching the argument. */
static bool arg_readable(enum shim_kind kind, unsigned long req, const void *arg)
{
	uint32_t argsz;

	if (kind == SF_GROUP && req == VFIO_GROUP_GET_DEVICE_FD)
		return readable_string(arg, 4096);
	if (kind == SF_GROUP && req == VFIO_GROUP_SET_CONTAINER)
		return readable(arg, sizeof(int));
	if (!struct_request(kind, req))
		return true;
	if (!readable(arg, sizeof(argsz)))
		return false;
	memcpy(&argsz, arg, sizeof(argsz));
	if (argsz > 65536)
		argsz = 65536;
	return readable(arg, argsz < sizeof(argsz) ? sizeof(argsz) : argsz);
}

/* SET_CONTAINER names the container by the program's descriptor. */
static int set_container(struct shim_file *g, const int *fdp)
{
	struct shim_file *c;
	int handle, rc, err;

	if (shim_real.fcntl(*fdp, F_GETFD) < 0) {
		errno = EBADF;
		return -1;
	}
	c = shim_file_hold(*fdp);
	/* an open file that is no container: the group's own handle stands in
	 * for it, so the library's checks come in Linux's order */
	handle = c && c->kind == SF_CONTAINER ? c->handle : g->handle;
	rc = ap_vfio_ioctl(shim.ctx, g->handle, VFIO_GROUP_SET_CONTAINER, &handle);
	err = errno;
	if (c)
		shim_file_put(c);
	errno = err;
	return rc;
}

/* GET_DEVICE_FD: the library's handle, and a descriptor of the function's
 * memfd for it. */
static int get_device_fd(struct shim_file *g, const char *name)
{
	int h = ap_vfio_ioctl(shim.ctx, g->handle, VFIO_GROUP_GET_DEVICE_FD, (void *)(uintptr_t)name);
	struct shim_pci *sp;
	struct shim_file *f;
	int fd, err;

	if (h < 0)
		return -1;
	sp = shim_pci_of(ap_vfio_device_pci(shim.ctx, h));
	f = calloc(1, sizeof(*f));
	fd = sp && f ? shim_real.fcntl(sp->memfd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0 || fd >= SHIM_MAX_FD) {
		err = fd < 0 ? (errno ? errno : ENOMEM) : EMFILE;
		if (fd >= 0)
			shim_real.close(fd);
		free(f);
		ap_vfio_close(shim.ctx, h);
		errno = err;
		return -1;
	}
	*f = (struct shim_file){ .kind = SF_DEVICE, .handle = h, .refs = 1, .dev = sp->dev,
				 .ino = sp->ino, .sp = sp };
	shim_table_lock();
	shim_file_drop(fd);
	shim_file_set(fd, f);
	shim_table_unlock();
	return fd;
}

static int vfio_ioctl(struct shim_file *f, unsigned long req, void *arg)
{
	shim_claim();
	if (!arg_readable(f->kind, req, arg)) {
		errno = EFAULT;
		return -1;
	}
	if (req == VFIO_GROUP_SET_CONTAINER && f->kind == SF_GROUP)
		return set_container(f, arg);
	if (req == VFIO_GROUP_GET_DEVICE_FD && f->kind == SF_GROUP)
		return get_device_fd(f, arg);
	return ap_vfio_ioctl(shim.ctx, f->handle, req, arg);
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct shim_file *f;
	char what[256], res[512];
	va_list ap;
	void *arg;
	int rc, err, saved = errno;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_real_init();
	if (shim_depth || !shim_fd_maybe(fd))
		return shim_real.ioctl(fd, req, arg);
	shim_calls_enter();
	f = shim_file_hold(fd);
	if (!f) {
		shim_calls_leave();
		return shim_real.ioctl(fd, req, arg);
	}
	if (shim_logging() && arg_readable(f->kind, req, arg))
		shim_ioctl_describe(f->kind, req, arg, false, 0, what, sizeof(what));
	else
		snprintf(what, sizeof(what), "0x%lx", req);
	ap_ctx_set_error(shim.ctx, "%s", "");
	errno = 0;
	rc = vfio_ioctl(f, req, arg);
	err = rc < 0 ? errno : 0;
	if (shim_logging()) {
		if (rc >= 0 && arg_readable(f->kind, req, arg))
			shim_ioctl_describe(f->kind, req, arg, true, rc, what, sizeof(what));
		shim_result(res, sizeof(res), rc, err);
		if (f->kind == SF_CONTAINER && req == VFIO_IOMMU_UNMAP_DMA && rc >= 0)
			shim_log("ioctl(%d %s, %s) %s unmapped=0x%llx", fd, kind_name(f), what, res,
				 (unsigned long long)((struct vfio_iommu_type1_dma_unmap *)arg)->size);
		else
			shim_log("ioctl(%d %s, %s) %s", fd, kind_name(f), what, res);
	}
	shim_file_put(f);
	shim_calls_leave();
	errno = rc < 0 ? err : saved;
	return rc;
}

/* ------------------------------------------------------------ mmap */

static unsigned long device_maps; /* BAR mappings made, for munmap's log */

static void *do_mmap(void *(*fn)(void *, size_t, int, int, int, off_t), void *addr,
		     size_t len, int prot, int flags, int fd, off_t off)
{
	struct shim_file *f;
	long page = sysconf(_SC_PAGESIZE);
	size_t span;
	void *p;
	int err, saved = errno;

	if (shim_depth || !shim_fd_maybe(fd))
		return fn(addr, len, prot, flags, fd, off);
	shim_calls_enter();
	f = shim_file_hold(fd);
	if (!f) {
		shim_calls_leave();
		return fn(addr, len, prot, flags, fd, off);
	}
	span = (len + (size_t)page - 1) & ~((size_t)page - 1);
	err = f->kind != SF_DEVICE ? ENODEV : !(flags & MAP_SHARED) ? EINVAL : 0;
	if (!err && (off < 0 || !len || !ap_vfio_mmap(shim.ctx, f->handle, (uint64_t)off, span)))
		err = off < 0 || !len ? EINVAL : errno;
	if (err) {
		shim_log("mmap(%d %s, offset 0x%llx, 0x%zx) = -1 %s", fd, kind_name(f),
			 (unsigned long long)off, len, ap_errno_name(err));
		shim_file_put(f);
		shim_calls_leave();
		errno = err;
		return MAP_FAILED;
	}
	p = fn(addr, len, prot, flags, fd, off);
	err = errno;
	if (p != MAP_FAILED) {
		__atomic_add_fetch(&device_maps, 1, __ATOMIC_RELAXED);
		shim_table_lock();
		shim_trap_add(p, len, prot, f->sp->pci);
		shim_table_unlock();
	}
	shim_log("mmap(%d device %s, region %llu +0x%llx, 0x%zx, prot 0x%x) = %p",
		 fd, ap_pci_name(f->sp->pci), (unsigned long long)((uint64_t)off >> REGION_SHIFT),
		 (unsigned long long)((uint64_t)off & ((1ull << REGION_SHIFT) - 1)), len, prot, p);
	shim_file_put(f);
	shim_calls_leave();
	errno = p == MAP_FAILED ? err : saved;
	return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	shim_real_init();
	return do_mmap(shim_real.mmap, addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	shim_real_init();
	return do_mmap(shim_real.mmap64 ? shim_real.mmap64 : shim_real.mmap, addr, len, prot,
		       flags, fd, off);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	bool device;
	int rc, err;

	shim_real_init();
	/* the shim and the library never unmap the program's BAR mappings */
	device = !shim_depth && __atomic_load_n(&device_maps, __ATOMIC_RELAXED);
	if (device) {
		shim_table_lock();
		device = shim_trap_remove(addr, len);
		shim_table_unlock();
	}
	rc = shim_real.munmap(addr, len);
	if (device && !shim_depth) {
		err = errno;
		shim_log("munmap(%p, 0x%zx) = %d", addr, len, rc);
		errno = err;
	}
	return rc;
}

/* ------------------------------------------------------------ pread, pwrite */

static ssize_t region_rw(ssize_t (*fn)(int, void *, size_t, off_t), int fd, void *buf,
			 size_t n, off_t off, bool write)
{
	struct shim_file *f;
	char res[512];
	ssize_t rc;
	int err, saved = errno;

	if (shim_depth || !shim_fd_maybe(fd))
		return fn(fd, buf, n, off);
	shim_calls_enter();
	f = shim_file_hold(fd);
	if (!f) {
		shim_calls_leave();
		return fn(fd, buf, n, off);
	}
	ap_ctx_set_error(shim.ctx, "%s", "");
	if (f->kind != SF_DEVICE || off < 0) {
		rc = -1;
		errno = EINVAL;
	} else if (n && !readable(buf, n)) {
		rc = -1;
		errno = EFAULT;
	} else if (write) {
		rc = ap_vfio_pwrite(shim.ctx, f->handle, buf, n, (uint64_t)off);
	} else {
		rc = ap_vfio_pread(shim.ctx, f->handle, buf, n, (uint64_t)off);
	}
	err = rc < 0 ? errno : 0;
	shim_result(res, sizeof(res), (long)rc, err);
	shim_log("%s(%d %s, 0x%zx, region %llu +0x%llx) %s", write ? "pwrite" : "pread", fd,
		 kind_name(f), n, (unsigned long long)((uint64_t)off >> REGION_SHIFT),
		 (unsigned long long)((uint64_t)off & ((1ull << REGION_SHIFT) - 1)), res);
	shim_file_put(f);
	shim_calls_leave();
	errno = rc < 0 ? err : saved;
	return rc;
}

SHIM_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	shim_real_init();
	return region_rw(shim_real.pread, fd, buf, n, off, false);
}

SHIM_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	shim_real_init();
	return region_rw(shim_real.pread64 ? shim_real.pread64 : shim_real.pread, fd, buf, n, off,
			 false);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	shim_real_init();
	return region_rw((ssize_t(*)(int, void *, size_t, off_t))shim_real.pwrite, fd,
			 (void *)(uintptr_t)buf, n, off, true);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	shim_real_init();
	return region_rw((ssize_t(*)(int, void *, size_t, off_t))(shim_real.pwrite64
								       ? shim_real.pwrite64
								       : shim_real.pwrite),
			 fd, (void *)(uintptr_t)buf, n, off, true);
}

/* ------------------------------------------------------------ paths */

/* A call on a path: rewritten in rewrite mode, logged when in the tree. */
#define PATH_CALL(ret_t, call_name, real_expr, path, fmt_ok)                      \
	do {                                                                    \
		char buf_[PATH_MAX];                                            \
		const char *p_;                                                 \
		ret_t rc_;                                                      \
		int err_;                                                       \
		shim_real_init();                                               \
		if (shim_depth || !shim_light() || !shim_path_grafted(path)) {  \
			p_ = (path);                                            \
			return real_expr;                                       \
		}                                                               \
		p_ = shim_path((path), buf_);                                   \
		rc_ = real_expr;                                                \
		err_ = errno;                                                   \
		shim_log("%s(\"%s\") = %s%s", call_name, (path), (fmt_ok) ? "ok" : "-1 ", \
			 (fmt_ok) ? "" : ap_errno_name(err_));                  \
		errno = err_;                                                   \
		return rc_;                                                     \
	} while (0)

SHIM_EXPORT int stat(const char *path, struct stat *st)
{
	PATH_CALL(int, "stat", shim_real.stat(p_, st), path, rc_ == 0);
}

SHIM_EXPORT int lstat(const char *path, struct stat *st)
{
	PATH_CALL(int, "lstat", shim_real.lstat(p_, st), path, rc_ == 0);
}

SHIM_EXPORT int stat64(const char *path, struct stat64 *st)
{
	PATH_CALL(int, "stat64", (shim_real.stat64 ? shim_real.stat64 : shim_real.stat)(p_, (struct stat *)(void *)st), path, rc_ == 0);
}

SHIM_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	PATH_CALL(int, "lstat64", (shim_real.lstat64 ? shim_real.lstat64 : shim_real.lstat)(p_, (struct stat *)(void *)st), path, rc_ == 0);
}

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	PATH_CALL(int, "fstatat", shim_real.fstatat(dirfd, p_, st, flags), path, rc_ == 0);
}

SHIM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	PATH_CALL(int, "fstatat64", (shim_real.fstatat64 ? shim_real.fstatat64 : shim_real.fstatat)(dirfd, p_, (struct stat *)(void *)st, flags), path, rc_ == 0);
}

int __xstat(int ver, const char *path, struct stat *st); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name
int __lxstat(int ver, const char *path, struct stat *st); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name
int __xstat64(int ver, const char *path, struct stat64 *st); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name
int __lxstat64(int ver, const char *path, struct stat64 *st); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's name

SHIM_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	PATH_CALL(int, "stat", shim_real.xstat(ver, p_, st), path, rc_ == 0);
}

SHIM_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	PATH_CALL(int, "lstat", shim_real.lxstat(ver, p_, st), path, rc_ == 0);
}

SHIM_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
	PATH_CALL(int, "stat64", shim_real.xstat64(ver, p_, (struct stat *)(void *)st), path, rc_ == 0);
}

SHIM_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
	PATH_CALL(int, "lstat64", shim_real.lxstat64(ver, p_, (struct stat *)(void *)st), path, rc_ == 0);
}

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *st)
{
	PATH_CALL(int, "statx", shim_real.statx(dirfd, p_, flags, mask, st), path, rc_ == 0);
}

SHIM_EXPORT int access(const char *path, int mode)
{
	PATH_CALL(int, "access", shim_real.access(p_, mode), path, rc_ == 0);
}

SHIM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	PATH_CALL(int, "faccessat", shim_real.faccessat(dirfd, p_, mode, flags), path, rc_ == 0);
}

SHIM_EXPORT ssize_t readlink(const char *path, char *out, size_t len)
{
	PATH_CALL(ssize_t, "readlink", shim_real.readlink(p_, out, len), path, rc_ >= 0);
}

SHIM_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *out, size_t len)
{
	PATH_CALL(ssize_t, "readlinkat", shim_real.readlinkat(dirfd, p_, out, len), path, rc_ >= 0);
}

SHIM_EXPORT DIR *opendir(const char *path)
{
	PATH_CALL(DIR *, "opendir", (DIR *)shim_real.opendir(p_), path, rc_ != NULL);
}

SHIM_EXPORT char *realpath(const char *path, char *resolved)
{
	char buf[PATH_MAX];
	char *rc;
	int err;

	shim_real_init();
	if (shim_depth || !shim_light() || !shim_path_grafted(path))
		return shim_real.realpath(path, resolved);
	rc = shim_real.realpath(shim_path(path, buf), resolved);
	err = errno;
	if (rc)
		shim_path_unrewrite(rc);
	shim_log("realpath(\"%s\") = %s", path, rc ? rc : ap_errno_name(err));
	errno = err;
	return rc;
}
