/* SPDX-License-Identifier: MIT */
/*
 * The program's descriptors that are VFIO objects.  Each is a real file: a
 * memfd (the container's, a group's) or the memfd of an emulated function
 * (a device's, whose regions sit at vfio-pci's offsets), so that dup,
 * fork, poll and mmap work on it as the kernel's would.  A table indexed
 * by descriptor says which library handle it stands for; an entry is
 * trusted only while the descriptor still names the same file (device and
 * inode), so a descriptor closed behind the shim's back (close_range, a
 * library's internal close) is forgotten rather than misread.
 *
 * Lifetimes follow the kernel's for one process: a handle lives while a
 * descriptor of this process names its file; the last close releases it.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

static struct shim_file *table[SHIM_MAX_FD];
static struct shim_file *graveyard; /* under shim_lock */

void shim_table_lock(void)
{
	pthread_mutex_lock(&shim_lock);
}

/* The library handles of files that went are closed outside shim_lock
 * (closing one can take long: a group leaves its container). */
void shim_table_unlock(void)
{
	struct shim_file *f = graveyard, *next;

	graveyard = NULL;
	pthread_mutex_unlock(&shim_lock);
	for (; f; f = next) {
		next = f->dead;
		ap_vfio_close(shim.ctx, f->handle);
		free(f);
	}
}

void shim_calls_enter(void)
{
	SHIM_ENTER();
	pthread_rwlock_rdlock(&shim_calls);
}

void shim_calls_leave(void)
{
	pthread_rwlock_unlock(&shim_calls);
	SHIM_LEAVE();
}

bool shim_fd_maybe(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD && __atomic_load_n(&table[fd], __ATOMIC_ACQUIRE);
}

void shim_file_set(int fd, struct shim_file *f)
{
	__atomic_store_n(&table[fd], f, __ATOMIC_RELEASE);
}

/* The library handle goes with the last descriptor and the last call. */
static void bury(struct shim_file *f)
{
	f->dead = graveyard;
	graveyard = f;
}

static void release(struct shim_file *f)
{
	if (--f->refs > 0 || f->busy)
		return;
	bury(f);
}

void shim_file_drop(int fd)
{
	struct shim_file *f;

	if (fd < 0 || fd >= SHIM_MAX_FD || !(f = table[fd]))
		return;
	shim_file_set(fd, NULL);
	release(f);
}

struct shim_file *shim_file_get(int fd)
{
	struct shim_file *f;
	struct stat st;

	if (!shim_fd_maybe(fd))
		return NULL;
	f = table[fd];
	if (!f)
		return NULL;
	if (fstat(fd, &st) || st.st_dev != f->dev || st.st_ino != f->ino) {
		shim_file_drop(fd);
		return NULL;
	}
	return f;
}

struct shim_file *shim_file_hold(int fd)
{
	struct shim_file *f;

	shim_table_lock();
	f = shim_file_get(fd);
	if (f)
		f->busy++;
	shim_table_unlock();
	return f;
}

void shim_file_put(struct shim_file *f)
{
	shim_table_lock();
	if (!--f->busy && !f->refs)
		bury(f);
	shim_table_unlock();
}

const struct place *shim_place_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return NULL;
	for (unsigned i = 0; i < shim.nplaces; i++)
		if (shim.places[i].dev == st.st_dev && shim.places[i].ino == st.st_ino)
			return &shim.places[i];
	return NULL;
}

struct shim_pci *shim_pci_of(const struct ap_pci *pci)
{
	for (unsigned i = 0; i < shim.npcis; i++)
		if (shim.pcis[i].pci == pci)
			return &shim.pcis[i];
	return NULL;
}

/* Put `from` in place of fd (keeping fd's number and close-on-exec). */
static int replace_fd(int fd, int from, int flags)
{
	int rc = shim_real.dup3(from, fd, flags & O_CLOEXEC);
	int err = errno;

	shim_real.close(from);
	errno = err;
	return rc < 0 ? -1 : fd;
}

static int fail_close(int fd, int err)
{
	shim_real.close(fd);
	errno = err;
	return -1;
}

/* A container or group placeholder: the library opens the handle, a memfd
 * takes the placeholder's descriptor. */
static int adopt_vfio(int fd, const struct place *p, int flags)
{
	char dev[32], name[40];
	struct shim_file *f;
	struct stat st;
	int handle, mfd;

	if (p->kind == PLACE_CONTAINER)
		snprintf(dev, sizeof(dev), "/dev/vfio/vfio");
	else
		snprintf(dev, sizeof(dev), "/dev/vfio/%d", p->group);
	handle = ap_vfio_open(shim.ctx, dev);
	if (handle < 0)
		return fail_close(fd, errno);
	snprintf(name, sizeof(name), "aperture:%s", dev + 5);
	mfd = memfd_create(name, MFD_CLOEXEC);
	f = calloc(1, sizeof(*f));
	if (mfd < 0 || !f || replace_fd(fd, mfd, flags) < 0 || fstat(fd, &st)) {
		int err = errno ? errno : ENOMEM;

		free(f);
		ap_vfio_close(shim.ctx, handle);
		return fail_close(fd, err);
	}
	*f = (struct shim_file){ .kind = p->kind == PLACE_CONTAINER ? SF_CONTAINER : SF_GROUP,
				 .handle = handle, .refs = 1, .dev = st.st_dev, .ino = st.st_ino,
				 .group = p->group };
	shim_file_set(fd, f);
	return fd;
}

int shim_adopt(int fd, const char *path, int flags)
{
	const struct place *p;

	(void)path;
	shim_file_drop(fd); /* a descriptor number the program reused */
	p = shim_place_of(fd);
	if (!p)
		return fd;
	if (p->kind == PLACE_DEBUGFS) {
		int mfd = shim_debugfs_render(p->bdf);

		return mfd < 0 ? fail_close(fd, errno) : replace_fd(fd, mfd, flags);
	}
	return adopt_vfio(fd, p, flags);
}
