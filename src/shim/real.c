/* SPDX-License-Identifier: MIT */
/*
 * The real libc entry points, found past this library in the lookup order
 * (dlsym RTLD_NEXT).  Resolved once, early, by whichever intercepted call
 * comes first; a symbol the C library lacks (the pre-2.33 __xstat family on
 * a newer glibc, say) stays NULL and its interposer is never reached.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <dlfcn.h>

#include "shim.h"

struct shim_real shim_real;

#define RESOLVE(field, name) \
	(*(void **)(&shim_real.field) = dlsym(RTLD_NEXT, name))

void shim_real_init(void)
{
	static int done;

	if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		return;
	RESOLVE(open, "open");
	RESOLVE(open64, "open64");
	RESOLVE(openat, "openat");
	RESOLVE(openat64, "openat64");
	RESOLVE(open_2, "__open_2");
	RESOLVE(open64_2, "__open64_2");
	RESOLVE(openat_2, "__openat_2");
	RESOLVE(openat64_2, "__openat64_2");
	RESOLVE(fopen, "fopen");
	RESOLVE(fopen64, "fopen64");
	RESOLVE(close, "close");
	RESOLVE(dup, "dup");
	RESOLVE(dup2, "dup2");
	RESOLVE(dup3, "dup3");
	RESOLVE(fcntl, "fcntl");
	RESOLVE(fcntl64, "fcntl64");
	RESOLVE(ioctl, "ioctl");
	RESOLVE(mmap, "mmap");
	RESOLVE(mmap64, "mmap64");
	RESOLVE(munmap, "munmap");
	RESOLVE(pread, "pread");
	RESOLVE(pread64, "pread64");
	RESOLVE(pwrite, "pwrite");
	RESOLVE(pwrite64, "pwrite64");
	RESOLVE(stat, "stat");
	RESOLVE(lstat, "lstat");
	RESOLVE(stat64, "stat64");
	RESOLVE(lstat64, "lstat64");
	RESOLVE(fstatat, "fstatat");
	RESOLVE(fstatat64, "fstatat64");
	RESOLVE(xstat, "__xstat");
	RESOLVE(lxstat, "__lxstat");
	RESOLVE(xstat64, "__xstat64");
	RESOLVE(lxstat64, "__lxstat64");
	RESOLVE(statx, "statx");
	RESOLVE(access, "access");
	RESOLVE(faccessat, "faccessat");
	RESOLVE(readlink, "readlink");
	RESOLVE(readlinkat, "readlinkat");
	RESOLVE(opendir, "opendir");
	RESOLVE(realpath, "realpath");
	/* the stat family before glibc 2.33 exists only as compat symbols */
	if (!shim_real.xstat)
		*(void **)(&shim_real.xstat) = dlvsym(RTLD_NEXT, "__xstat", "GLIBC_2.2.5");
	if (!shim_real.lxstat)
		*(void **)(&shim_real.lxstat) = dlvsym(RTLD_NEXT, "__lxstat", "GLIBC_2.2.5");
	if (!shim_real.xstat64)
		*(void **)(&shim_real.xstat64) = dlvsym(RTLD_NEXT, "__xstat64", "GLIBC_2.2.5");
	if (!shim_real.lxstat64)
		*(void **)(&shim_real.lxstat64) = dlvsym(RTLD_NEXT, "__lxstat64", "GLIBC_2.2.5");
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}
