/* SPDX-License-Identifier: MIT */
/*
 * Paths.  The launcher's tree replaces a few directories wholesale (the
 * grafts: /dev/vfio, /sys/bus/pci/devices, ...).  In a private mount
 * namespace the kernel does that; in rewrite mode, where no namespace could
 * be made, the shim does it by hand: an absolute path under a graft is
 * looked up under the tree instead.  Only absolute paths are rewritten (a
 * relative path, or one relative to a directory descriptor, is the
 * caller's, as is a symbolic link elsewhere that points into a graft).
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <string.h>

#include "shim.h"

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

bool shim_path_grafted(const char *path)
{
	if (!path || path[0] != '/')
		return false;
	for (unsigned i = 0; i < shim.ngrafts; i++)
		if (under(path, shim.grafts[i]))
			return true;
	return false;
}

const char *shim_path(const char *path, char *buf)
{
	if (shim.mode != SHIM_REWRITE || !shim_path_grafted(path))
		return path;
	if ((size_t)snprintf(buf, PATH_MAX, "%s%s", shim.root, path) >= PATH_MAX)
		return path;
	return buf;
}

void shim_path_unrewrite(char *path)
{
	size_t n = strlen(shim.root);

	if (shim.mode == SHIM_REWRITE && path && !strncmp(path, shim.root, n) &&
	    path[n] == '/' && shim_path_grafted(path + n))
		memmove(path, path + n, strlen(path + n) + 1);
}
