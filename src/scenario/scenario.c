/* SPDX-License-Identifier: MIT */
/*
 * The scenario language (doc/scenario.md is its reference): one command a line,
 * each checked by the `expect` lines after it.  This file parses and runs;
 * every message names FILE:LINE and what was expected.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <endian.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include "scn_internal.h"

#define MAX_TOKENS 16
#define MAX_LINE 1024
#define MAX_DMA_LEN (256ull << 20)
#define MAX_DATA 512 /* bytes of a DMA read that `expect data` can check */
#define SYNTAX 1 /* a handler's "malformed line" result; message already set */

/* What the last command did, for the `expect` lines after it (each has_X
 * says whether X was recorded).  Widest fields first: no padding. */
struct outcome {
	uint64_t pa;
	uint64_t unmapped;
	uint64_t dirty;           /* pages a dirty-bitmap query reported */
	size_t ndata;
	struct ap_fault record;
	int line;
	int err;                  /* 0 or a negative errno */
	enum ap_fault_kind fault; /* a DMA that faulted */
	int status;               /* a viommu request's VIRTIO_IOMMU_S_*, -1 unwritten */
	unsigned events;          /* fault events a `viommu events` read */
	bool valid;
	bool has_pa;
	bool has_unmapped;
	bool has_dirty;
	bool has_data;            /* a DMA read: its first bytes, for expect data */
	bool has_status;
	bool has_events;
	char cmd[16];             /* the command's name */
	char detail[256];         /* what a viommu command found (PROBE, events) */
	uint8_t data[MAX_DATA];
	char msg[512];            /* the context's explanation of err */
};

struct run {
	struct ap_ctx *ctx;
	const char *file;
	int line;
	FILE *out;
	unsigned flags;
	char text[MAX_LINE];      /* the current line, comment stripped */
	struct outcome last;
	bool pending;             /* last command failed; only `expect error` may follow */
	char domain[64];          /* last domain a command named */
	char container[64];       /* last VFIO container a command named */
	bool named_container;     /* ... and it came after the domain */
	int ntok;
	char *tok[MAX_TOKENS];
	unsigned commands;        /* lines that held a command */
};

static int syntax(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int unexpected_failure(struct run *r);

/* Set the context's message, with this line's FILE:LINE in front or not. */
static void set_message(struct run *r, bool located, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void set_message(struct run *r, bool located, const char *fmt, va_list ap)
{
	char msg[400];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (located)
		ap_ctx_set_error(r->ctx, "%s:%d: %s", r->file, r->line, msg);
	else
		ap_ctx_set_error(r->ctx, "%s", msg);
}

static int syntax(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message(r, true, fmt, ap);
	va_end(ap);
	return SYNTAX;
}

/* A failure of the command itself (an object that does not exist). */
static int refuse(struct run *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct run *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message(r, false, fmt, ap);
	va_end(ap);
	return err;
}

static int want_args(struct run *r, int min, int max, const char *usage)
{
	if (r->ntok - 1 < min || r->ntok - 1 > max)
		return syntax(r, "expected '%s', got %d argument%s", usage, r->ntok - 1,
			      r->ntok == 2 ? "" : "s");
	return 0;
}

static int number(struct run *r, const char *s, const char *what, uint64_t *out)
{
	int err = ap_parse_size(s, out);

	if (err == -ERANGE)
		return syntax(r, "expected %s, got '%s' (does not fit in 64 bits)", what, s);
	if (err)
		return syntax(r, "expected %s (decimal or 0x hex, optional K M G T), got '%s'",
			      what, s);
	return 0;
}

static int size_list(struct run *r, const char *s, uint64_t *bitmap)
{
	if (ap_parse_pgsizes(s, bitmap))
		return syntax(r, "expected a LIST of power-of-two sizes such as 4K,2M,1G, got '%s'",
			      s);
	return 0;
}

static int prot_letters(struct run *r, const char *s, unsigned *prot)
{
	static const char letters[] = "rwcnmp";
	const char *p;

	*prot = 0;
	for (p = s; *p; p++) {
		const char *at = strchr(letters, *p);

		if (!at)
			return syntax(r, "expected PROT letters from r w c n m p, got '%s'", s);
		*prot |= 1u << (at - letters);
	}
	return 0;
}

/* Split "key=value" (leaving the word intact for the echo); returns 0 with
 * the key copied out and *value pointing past '=', or SYNTAX. */
static int key_value(struct run *r, const char *tok, const char *usage, char key[32],
		     const char **value)
{
	const char *eq = strchr(tok, '=');

	*value = ""; /* never NULL, even to a caller that misses the error */
	if (!eq || eq == tok || eq - tok >= 32)
		return syntax(r, "expected key=value (%s), got '%s'", usage, tok);
	memcpy(key, tok, (size_t)(eq - tok));
	key[eq - tok] = '\0';
	*value = eq + 1;
	return 0;
}

static struct ap_iommu *iommu_named(struct run *r, const char *name)
{
	struct ap_iommu *i = ap_iommu_find(r->ctx, name);

	if (!i)
		refuse(r, -ENOENT, "no IOMMU called '%s'", name);
	return i;
}

static struct ap_device *device_named(struct run *r, const char *name)
{
	struct ap_device *d = ap_device_find(r->ctx, name);

	if (!d)
		refuse(r, -ENOENT, "no device called '%s'", name);
	return d;
}

/* The domain later `expect geometry|pgsizes` lines check.  A name too long
 * to be any domain's is remembered as none, never as a prefix. */
static void remember_domain(struct run *r, const char *name)
{
	if (strlen(name) < sizeof(r->domain))
		strcpy(r->domain, name);
	else
		r->domain[0] = '\0';
}

static struct ap_domain *domain_named(struct run *r, const char *name)
{
	struct ap_domain *d = ap_domain_find(r->ctx, name);

	remember_domain(r, name);
	r->named_container = false;
	if (!d)
		refuse(r, -ENOENT, "no domain called '%s'", name);
	return d;
}

/* ------------------------------------------------------------ commands */

static int cmd_ram(struct run *r)
{
	uint64_t pa, size;

	if (want_args(r, 2, 2, "ram PA SIZE") || number(r, r->tok[1], "PA", &pa) ||
	    number(r, r->tok[2], "SIZE", &size))
		return SYNTAX;
	return ap_ram_alloc(r->ctx, pa, size, NULL);
}

/* Where page tables live: set before the first paging domain, once. */
static int cmd_tables(struct run *r)
{
	uint64_t pa, size;

	if (want_args(r, 2, 2, "tables PA SIZE") || number(r, r->tok[1], "PA", &pa) ||
	    number(r, r->tok[2], "SIZE", &size))
		return SYNTAX;
	return ap_ctx_set_table_window(r->ctx, pa, size);
}

/* The kind whose option `key` is, if not cfg's own (0: none has it). */
static enum ap_iommu_kind option_owner(const char *key, const char *val)
{
	struct ap_iommu_config other;
	enum ap_iommu_kind k;

	for (k = ap_iommu_kind_next(0); k; k = ap_iommu_kind_next(k)) {
		ap_iommu_config_init(&other, k);
		if (ap_iommu_config_set(&other, key, val, NULL) != -ENOENT)
			return k;
	}
	return 0;
}

/* key=value of an iommu line: every kind's options, and the kind's own;
 * a key given twice is an error (which of the two would hold?).  Another
 * kind's option is a capability this one lacks: the command fails with
 * EINVAL (*failed), as ap_iommu_new() refuses one. */
static int iommu_option(struct run *r, const char *word, struct ap_iommu_config *cfg,
			char seen[][32], int nseen, int *failed)
{
	enum ap_iommu_kind owner;
	const char *val = NULL, *expected = NULL;
	char key[32];
	int err, i;

	if (key_value(r, word, ap_iommu_config_usage(cfg->kind), key, &val))
		return SYNTAX;
	for (i = 0; i < nseen; i++)
		if (!strcmp(seen[i], key))
			return syntax(r, "expected each iommu option once, got %s= twice", key);
	strcpy(seen[nseen], key);
	err = ap_iommu_config_set(cfg, key, val, &expected);
	owner = err == -ENOENT ? option_owner(key, val) : 0;
	if (owner && !*failed)
		*failed = refuse(r, -EINVAL, "%s is a capability of %s, which %s has not", key,
				 ap_iommu_kind_name(owner), ap_iommu_kind_name(cfg->kind));
	if (owner)
		return 0;
	if (err == -ENOENT)
		return syntax(r, "expected an iommu option of %s (%s), got '%s'",
			      ap_iommu_kind_name(cfg->kind), ap_iommu_config_usage(cfg->kind), key);
	if (err)
		return syntax(r, "expected %s, got '%s'", expected, val);
	return 0;
}

/* "arm-smmu-v3, intel-vtd or arm-smmu" */
static void kind_list(char *buf, size_t len)
{
	enum ap_iommu_kind k, next;
	size_t at = 0;

	buf[0] = '\0';
	for (k = ap_iommu_kind_next(0); k && at < len; k = next) {
		next = ap_iommu_kind_next(k);
		at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? (next ? ", " : " or ") : "",
				       ap_iommu_kind_name(k));
	}
}

static int cmd_iommu(struct run *r)
{
	struct ap_iommu_config cfg;
	enum ap_iommu_kind kind;
	char kinds[128], seen[MAX_TOKENS][32];
	int i, failed = 0;

	if (want_args(r, 2, MAX_TOKENS - 1, "iommu NAME KIND [option=value ...]"))
		return SYNTAX;
	kind = ap_iommu_kind_from_name(r->tok[2]);
	if (!kind) {
		kind_list(kinds, sizeof(kinds));
		return syntax(r, "expected KIND %s, got '%s'", kinds, r->tok[2]);
	}
	ap_iommu_config_init(&cfg, kind);
	for (i = 3; i < r->ntok; i++)
		if (iommu_option(r, r->tok[i], &cfg, seen, i - 3, &failed))
			return SYNTAX;
	return failed ? failed : ap_iommu_new(r->ctx, r->tok[1], &cfg, NULL);
}

static int cmd_device(struct run *r)
{
	static const char usage[] = "device NAME IOMMU sid=N [group=N] [smr-mask=M]";
	static const char *const keys[] = { "sid", "group", "smr-mask" };
	uint64_t v[3] = { 0, 0, 0 };
	bool have[3] = { false, false, false };
	struct ap_device_config dc;
	struct ap_iommu *iommu;
	int i;

	if (want_args(r, 3, 5, usage))
		return SYNTAX;
	for (i = 3; i < r->ntok; i++) {
		const char *val = NULL;
		char key[32];
		unsigned k;

		if (key_value(r, r->tok[i], "sid=N group=N smr-mask=M", key, &val))
			return SYNTAX;
		for (k = 0; k < 3 && strcmp(key, keys[k]); k++)
			;
		if (k == 3)
			return syntax(r, "expected sid=N, group=N or smr-mask=M, got '%s'", r->tok[i]);
		if (have[k])
			return syntax(r, "expected each device option once, got %s= twice", key);
		if (number(r, val, key, &v[k]))
			return SYNTAX;
		have[k] = true;
	}
	if (!have[0])
		return syntax(r, "expected '%s': sid= is missing", usage);
	if (v[0] > UINT32_MAX)
		return syntax(r, "expected a 32-bit stream ID, got 0x%llx", (unsigned long long)v[0]);
	if (have[1] && v[1] > 0x7fffffff)
		return syntax(r, "expected a group number below 2^31, got %llu",
			      (unsigned long long)v[1]);
	if (v[2] > UINT32_MAX)
		return syntax(r, "expected a 32-bit stream mask, got 0x%llx", (unsigned long long)v[2]);
	iommu = iommu_named(r, r->tok[2]);
	if (!iommu)
		return -ENOENT;
	dc = (struct ap_device_config){ .sid = (uint32_t)v[0], .sid_mask = (uint32_t)v[2],
					.group = have[1] ? (int)v[1] : AP_GROUP_OWN };
	return ap_device_add(r->ctx, r->tok[1], iommu, &dc, NULL);
}

/* pci BDF DEVICE [model=ioat|generic] [key=value ...]: options are the
 * model's (ap_pci_config_set), each once; model= comes first. */
static int cmd_pci(struct run *r)
{
	static const char usage[] = "pci BDF DEVICE [model=generic|ioat] [vendor=N] [device=N] "
				    "[class=N] [barN=SIZE[,mmap][,64][,prefetch]] [msix=N] ...";
	struct ap_pci_config cfg;
	char seen[MAX_TOKENS][32];
	struct ap_device *dev;
	int i, first = 3;

	if (want_args(r, 2, MAX_TOKENS - 1, usage))
		return SYNTAX;
	ap_pci_config_init(&cfg, AP_PCI_GENERIC);
	if (r->ntok > 3 && !strncmp(r->tok[3], "model=", 6)) {
		enum ap_pci_model m = ap_pci_model_from_name(r->tok[3] + 6);

		if (!m)
			return syntax(r, "expected model=generic or model=ioat, got '%s'", r->tok[3]);
		ap_pci_config_init(&cfg, m);
		first = 4;
	}
	for (i = first; i < r->ntok; i++) {
		const char *val = NULL, *expected = NULL;
		char key[32];
		int err;

		if (key_value(r, r->tok[i], usage, key, &val))
			return SYNTAX;
		for (int j = 0; j < i - first; j++)
			if (!strcmp(seen[j], key))
				return syntax(r, "expected each pci option once, got %s= twice", key);
		strcpy(seen[i - first], key);
		err = ap_pci_config_set(&cfg, key, val, &expected);
		if (err == -ENOENT)
			return syntax(r, "expected a pci option (%s), got '%s'", usage, key);
		if (err)
			return syntax(r, "expected %s, got '%s'", expected, r->tok[i]);
	}
	dev = device_named(r, r->tok[2]);
	if (!dev)
		return -ENOENT;
	return ap_pci_new(r->ctx, r->tok[1], dev, &cfg, NULL);
}

static int cmd_domain(struct run *r)
{
	enum ap_domain_type type = AP_DOMAIN_PAGING;
	struct ap_iommu *iommu;

	if (want_args(r, 2, 3, "domain NAME IOMMU [paging|identity|blocked]"))
		return SYNTAX;
	if (r->ntok == 4) {
		if (!strcmp(r->tok[3], "paging"))
			type = AP_DOMAIN_PAGING;
		else if (!strcmp(r->tok[3], "identity"))
			type = AP_DOMAIN_IDENTITY;
		else if (!strcmp(r->tok[3], "blocked"))
			type = AP_DOMAIN_BLOCKED;
		else
			return syntax(r, "expected paging, identity or blocked, got '%s'", r->tok[3]);
	}
	remember_domain(r, r->tok[1]);
	r->named_container = false;
	iommu = iommu_named(r, r->tok[2]);
	if (!iommu)
		return -ENOENT;
	return ap_domain_new(r->ctx, r->tok[1], iommu, type, NULL);
}

static int cmd_attach(struct run *r)
{
	struct ap_domain *dom;
	struct ap_device *dev;

	if (want_args(r, 2, 2, "attach DOMAIN DEVICE"))
		return SYNTAX;
	dom = domain_named(r, r->tok[1]);
	if (!dom)
		return -ENOENT;
	dev = device_named(r, r->tok[2]);
	if (!dev)
		return -ENOENT;
	return ap_attach(dom, dev);
}

static int cmd_detach(struct run *r)
{
	struct ap_device *dev;

	if (want_args(r, 1, 1, "detach DEVICE"))
		return SYNTAX;
	dev = device_named(r, r->tok[1]);
	if (!dev)
		return -ENOENT;
	if (ap_device_domain(dev)) {
		remember_domain(r, ap_domain_name(ap_device_domain(dev)));
		r->named_container = false;
	}
	return ap_detach(dev);
}

static int cmd_map(struct run *r)
{
	uint64_t iova, pa, size;
	struct ap_domain *dom;
	unsigned prot;

	if (want_args(r, 5, 5, "map DOMAIN IOVA PA SIZE PROT") ||
	    number(r, r->tok[2], "IOVA", &iova) || number(r, r->tok[3], "PA", &pa) ||
	    number(r, r->tok[4], "SIZE", &size) || prot_letters(r, r->tok[5], &prot))
		return SYNTAX;
	dom = domain_named(r, r->tok[1]);
	if (!dom)
		return -ENOENT;
	return ap_map(dom, iova, pa, size, prot);
}

static int cmd_unmap(struct run *r)
{
	uint64_t iova, size;
	struct ap_domain *dom;
	int err;

	if (want_args(r, 3, 3, "unmap DOMAIN IOVA SIZE") || number(r, r->tok[2], "IOVA", &iova) ||
	    number(r, r->tok[3], "SIZE", &size))
		return SYNTAX;
	dom = domain_named(r, r->tok[1]);
	if (!dom)
		return -ENOENT;
	err = ap_unmap(dom, iova, size, &r->last.unmapped);
	r->last.has_unmapped = !err;
	return err;
}

static int cmd_resv(struct run *r)
{
	static const char usage[] = "resv DEVICE START SIZE direct|direct-relaxable|reserved|"
				    "msi|sw-msi";
	struct ap_device *dev;
	uint64_t start, size;
	int type;

	if (want_args(r, 4, 4, usage) || number(r, r->tok[2], "START", &start) ||
	    number(r, r->tok[3], "SIZE", &size))
		return SYNTAX;
	type = ap_resv_type_from_name(r->tok[4]);
	if (type < 0)
		return syntax(r, "expected a reserved-region type (direct direct-relaxable reserved "
			      "msi sw-msi), got '%s'", r->tok[4]);
	dev = device_named(r, r->tok[1]);
	if (!dev)
		return -ENOENT;
	return ap_device_add_resv(dev, start, size, (enum ap_resv_type)type);
}

/* ------------------------------------------------------------ vfio */

#define MAX_VFIO_MAP (1ull << 30) /* the script's process memory, per mapping */

/* The container a vfio command names, remembered for expect. */
static const char *container_arg(struct run *r, int at)
{
	snprintf(r->container, sizeof(r->container), "%s", r->tok[at]);
	r->named_container = true;
	return r->tok[at];
}

static int group_arg(struct run *r, const char *s, int *group)
{
	uint64_t v;

	if (number(r, s, "GROUP", &v))
		return SYNTAX;
	if (v > 0x7fffffff)
		return syntax(r, "expected a group number below 2^31, got '%s'", s);
	*group = (int)v;
	return 0;
}

static int vfio_open(struct run *r)
{
	if (want_args(r, 2, 2, "vfio open NAME"))
		return SYNTAX;
	return ap__scn_vfio_open(r->ctx, container_arg(r, 2));
}

static int vfio_group(struct run *r, bool add)
{
	int group = 0;

	if (want_args(r, 3, 3, add ? "vfio add NAME GROUP" : "vfio remove NAME GROUP") ||
	    group_arg(r, r->tok[3], &group))
		return SYNTAX;
	if (add)
		return ap__scn_vfio_add(r->ctx, container_arg(r, 2), group);
	return ap__scn_vfio_remove(r->ctx, container_arg(r, 2), group);
}

static int vfio_iommu(struct run *r)
{
	unsigned long type;

	if (want_args(r, 3, 3, "vfio iommu NAME type1|type1v2"))
		return SYNTAX;
	if (!strcmp(r->tok[3], "type1"))
		type = VFIO_TYPE1_IOMMU;
	else if (!strcmp(r->tok[3], "type1v2"))
		type = VFIO_TYPE1v2_IOMMU;
	else
		return syntax(r, "expected type1 or type1v2, got '%s'", r->tok[3]);
	return ap__scn_vfio_iommu(r->ctx, container_arg(r, 2), type);
}

static int vfio_map(struct run *r)
{
	uint64_t iova, size;
	unsigned prot;

	if (want_args(r, 5, 5, "vfio map NAME IOVA SIZE PROT") ||
	    number(r, r->tok[3], "IOVA", &iova) || number(r, r->tok[4], "SIZE", &size) ||
	    prot_letters(r, r->tok[5], &prot))
		return SYNTAX;
	if (prot & ~(unsigned)(AP_PROT_READ | AP_PROT_WRITE))
		return syntax(r, "expected PROT letters r w (what the device may do), got '%s'",
			      r->tok[5]);
	if (size > MAX_VFIO_MAP)
		return syntax(r, "expected SIZE up to 1G (the script allocates the memory), got "
			      "'%s'", r->tok[4]);
	return ap__scn_vfio_map(r->ctx, container_arg(r, 2), iova, size, prot);
}

static int vfio_unmap(struct run *r)
{
	static const char usage[] = "vfio unmap NAME IOVA SIZE | vfio unmap NAME all";
	uint64_t iova = 0, size = 0;
	bool all = r->ntok == 4 && !strcmp(r->tok[3], "all");
	int err;

	if (want_args(r, all ? 3 : 4, all ? 3 : 4, usage) ||
	    (!all && (number(r, r->tok[3], "IOVA", &iova) || number(r, r->tok[4], "SIZE", &size))))
		return SYNTAX;
	err = ap__scn_vfio_unmap(r->ctx, container_arg(r, 2), iova, size, all, &r->last.unmapped);
	r->last.has_unmapped = !err;
	return err;
}

static int vfio_dirty(struct run *r)
{
	static const char usage[] = "vfio dirty NAME start|stop | vfio dirty NAME IOVA SIZE";
	uint64_t iova, size;
	int err;

	if (r->ntok == 4) {
		if (!strcmp(r->tok[3], "start"))
			return ap__scn_vfio_dirty(r->ctx, container_arg(r, 2),
						  VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
		if (!strcmp(r->tok[3], "stop"))
			return ap__scn_vfio_dirty(r->ctx, container_arg(r, 2),
						  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
		return syntax(r, "expected start or stop, got '%s'", r->tok[3]);
	}
	if (want_args(r, 4, 4, usage) || number(r, r->tok[3], "IOVA", &iova) ||
	    number(r, r->tok[4], "SIZE", &size))
		return SYNTAX;
	if (size > MAX_VFIO_MAP * 64)
		return syntax(r, "expected SIZE up to 64G, got '%s'", r->tok[4]);
	err = ap__scn_vfio_dirty_count(r->ctx, container_arg(r, 2), iova, size, &r->last.dirty);
	r->last.has_dirty = !err;
	return err;
}

static int vfio_limit(struct run *r)
{
	static const char usage[] = "vfio limit dma-entries N | vfio limit memlock SIZE|unlimited";
	uint64_t v = UINT64_MAX;

	if (want_args(r, 3, 3, usage))
		return SYNTAX;
	if (!strcmp(r->tok[2], "dma-entries")) {
		if (number(r, r->tok[3], "N", &v))
			return SYNTAX;
		if (v > UINT32_MAX)
			return syntax(r, "expected dma-entries below 2^32, got '%s'", r->tok[3]);
		return ap_vfio_set_dma_entry_limit(r->ctx, (uint32_t)v);
	}
	if (strcmp(r->tok[2], "memlock"))
		return syntax(r, "expected '%s', got 'vfio limit %s'", usage, r->tok[2]);
	if (strcmp(r->tok[3], "unlimited") && number(r, r->tok[3], "SIZE", &v))
		return SYNTAX;
	return ap_vfio_set_memlock_limit(r->ctx, v);
}

static int cmd_vfio(struct run *r)
{
	static const struct {
		const char *name;
		int (*run)(struct run *r);
	} sub[] = {
		{ "open", vfio_open },   { "iommu", vfio_iommu }, { "map", vfio_map },
		{ "unmap", vfio_unmap }, { "dirty", vfio_dirty }, { "limit", vfio_limit },
	};
	const char *what = r->ntok > 1 ? r->tok[1] : "";

	if (!strcmp(what, "add") || !strcmp(what, "remove"))
		return vfio_group(r, what[0] == 'a');
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (!strcmp(what, sub[i].name))
			return sub[i].run(r);
	return syntax(r, "expected vfio open|add|remove|iommu|map|unmap|dirty|limit, got "
		      "'vfio %s'", what);
}

/* ------------------------------------------------------------ viommu */

static const char *const status_names[] = { "OK",    "IOERR", "UNSUPP", "DEVERR", "INVAL",
					    "RANGE", "NOENT", "FAULT",  "NOMEM" };

static const char *status_name(int st)
{
	if (st < 0)
		return "UNWRITTEN";
	return (size_t)st < sizeof(status_names) / sizeof(status_names[0]) ? status_names[st] : "?";
}

/* "map-unmap,probe" -> feature bits; "none" is 0.  -1 for a bad name. */
static int feature_list(const char *s, uint64_t *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "input-range", VIRTIO_IOMMU_F_INPUT_RANGE },
		{ "domain-range", VIRTIO_IOMMU_F_DOMAIN_RANGE },
		{ "map-unmap", VIRTIO_IOMMU_F_MAP_UNMAP },
		{ "bypass", VIRTIO_IOMMU_F_BYPASS },
		{ "probe", VIRTIO_IOMMU_F_PROBE },
		{ "mmio", VIRTIO_IOMMU_F_MMIO },
		{ "bypass-config", VIRTIO_IOMMU_F_BYPASS_CONFIG },
		{ "indirect-desc", VIRTIO_RING_F_INDIRECT_DESC },
		{ "event-idx", VIRTIO_RING_F_EVENT_IDX },
	};

	*out = 0;
	if (!strcmp(s, "none"))
		return 0;
	while (*s) {
		size_t len = strcspn(s, ","), k;

		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strlen(names[k].name) == len && !strncmp(s, names[k].name, len))
				break;
		if (k == sizeof(names) / sizeof(names[0]))
			return -1;
		*out |= AP_VIOMMU_FEATURE(names[k].bit);
		s += len + (s[len] == ',');
	}
	return 0;
}

#define FEATURE_WORDS "input-range domain-range map-unmap bypass probe mmio bypass-config " \
		      "indirect-desc event-idx, or none"

/* viommu IOMMU [offer=LIST] [accept=LIST]: the device and its driver. */
static int viommu_new(struct run *r, struct ap_iommu *iommu)
{
	uint64_t offer = 0, accept = ~0ull;
	bool seen[2] = { false, false };
	int t;

	for (t = 2; t < r->ntok; t++) {
		const char *eq = strchr(r->tok[t], '=');
		uint64_t *dst = !strncmp(r->tok[t], "offer=", 6)    ? &offer
				: !strncmp(r->tok[t], "accept=", 7) ? &accept
								    : NULL;

		if (!dst || !eq)
			return syntax(r, "expected 'viommu IOMMU [offer=LIST] [accept=LIST]' or a "
				      "request, got '%s'", r->tok[t]);
		if (seen[dst == &accept])
			return syntax(r, "expected each viommu option once, got %.*s twice",
				      (int)(eq - r->tok[t] + 1), r->tok[t]);
		seen[dst == &accept] = true;
		if (feature_list(eq + 1, dst))
			return syntax(r, "expected a LIST of %s, got '%s'", FEATURE_WORDS, eq + 1);
		if (dst == &offer && !offer)
			offer = AP_VIOMMU_FEATURE(VIRTIO_F_VERSION_1);
	}
	return ap__scn_viommu_new(r->ctx, iommu, offer, accept);
}

/* PROBE's properties, in words (§5.13.6.8). */
static void describe_props(const uint8_t *p, size_t len, char *out, size_t cap)
{
	size_t off = 0, at = 0;

	out[0] = '\0';
	while (off + 4 <= len && at < cap) {
		struct virtio_iommu_probe_resv_mem m;
		uint16_t type, plen;

		memcpy(&type, p + off, 2);
		memcpy(&plen, p + off + 2, 2);
		type = le16toh(type) & VIRTIO_IOMMU_PROBE_T_MASK;
		plen = le16toh(plen);
		if (!type)
			break;
		if (type == VIRTIO_IOMMU_PROBE_T_RESV_MEM && off + sizeof(m) <= len) {
			memcpy(&m, p + off, sizeof(m));
			at += (size_t)snprintf(out + at, cap - at, "%s%s 0x%llx-0x%llx", at ? ", " : "",
					       m.subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI ? "msi" : "reserved",
					       (unsigned long long)le64toh(m.start),
					       (unsigned long long)le64toh(m.end));
		}
		off += 4 + (size_t)plen;
	}
	if (!out[0])
		snprintf(out, cap, "no properties");
}

/* A 32-bit request field from the script. */
static int u32_arg(struct run *r, const char *s, const char *what, uint32_t *out)
{
	uint64_t v;

	if (number(r, s, what, &v))
		return SYNTAX;
	if (v > UINT32_MAX)
		return syntax(r, "expected %s below 2^32, got '%s'", what, s);
	*out = (uint32_t)v;
	return 0;
}

/* The request of `viommu IOMMU TYPE ...` in rd; its length, 0 on a syntax
 * error (message set). */
static size_t viommu_encode(struct run *r, uint8_t *rd, bool *probe)
{
	const char *what = r->tok[2];
	uint32_t a = 0, b = 0, flags = 0;
	uint64_t vs, ve, pa;

	memset(rd, 0, 80);
	*probe = false;
	if (!strcmp(what, "attach") || !strcmp(what, "detach")) {
		struct virtio_iommu_req_attach q = { .head.type = VIRTIO_IOMMU_T_ATTACH };

		if (what[0] == 'a' ? want_args(r, 4, 5, "viommu IOMMU attach DOMAIN EP [bypass]")
				   : want_args(r, 4, 4, "viommu IOMMU detach DOMAIN EP"))
			return 0;
		if (u32_arg(r, r->tok[3], "DOMAIN", &a) || u32_arg(r, r->tok[4], "EP", &b))
			return 0;
		if (r->ntok == 6 && strcmp(r->tok[5], "bypass"))
			return syntax(r, "expected 'bypass', got '%s'", r->tok[5]), 0;
		q.head.type = what[0] == 'a' ? VIRTIO_IOMMU_T_ATTACH : VIRTIO_IOMMU_T_DETACH;
		q.domain = htole32(a);
		q.endpoint = htole32(b);
		q.flags = htole32(r->ntok == 6 ? VIRTIO_IOMMU_ATTACH_F_BYPASS : 0);
		memcpy(rd, &q, offsetof(struct virtio_iommu_req_attach, tail));
		return offsetof(struct virtio_iommu_req_attach, tail);
	}
	if (!strcmp(what, "map")) {
		struct virtio_iommu_req_map q = { .head.type = VIRTIO_IOMMU_T_MAP };
		const char *c;

		if (want_args(r, 7, 7, "viommu IOMMU map DOMAIN VSTART VEND PA PROT") ||
		    u32_arg(r, r->tok[3], "DOMAIN", &a) || number(r, r->tok[4], "VSTART", &vs) ||
		    number(r, r->tok[5], "VEND", &ve) || number(r, r->tok[6], "PA", &pa))
			return 0;
		for (c = r->tok[7]; *c; c++) {
			unsigned f = *c == 'r' ? VIRTIO_IOMMU_MAP_F_READ
				     : *c == 'w' ? VIRTIO_IOMMU_MAP_F_WRITE
				     : *c == 'm' ? VIRTIO_IOMMU_MAP_F_MMIO
						 : 0;

			if (!f && *c != '-')
				return syntax(r, "expected PROT letters r w m (or -), got '%s'",
					      r->tok[7]), 0;
			flags |= f;
		}
		q.domain = htole32(a);
		q.virt_start = htole64(vs);
		q.virt_end = htole64(ve);
		q.phys_start = htole64(pa);
		q.flags = htole32(flags);
		memcpy(rd, &q, offsetof(struct virtio_iommu_req_map, tail));
		return offsetof(struct virtio_iommu_req_map, tail);
	}
	if (!strcmp(what, "unmap")) {
		struct virtio_iommu_req_unmap q = { .head.type = VIRTIO_IOMMU_T_UNMAP };

		if (want_args(r, 5, 5, "viommu IOMMU unmap DOMAIN VSTART VEND") ||
		    u32_arg(r, r->tok[3], "DOMAIN", &a) || number(r, r->tok[4], "VSTART", &vs) ||
		    number(r, r->tok[5], "VEND", &ve))
			return 0;
		q.domain = htole32(a);
		q.virt_start = htole64(vs);
		q.virt_end = htole64(ve);
		memcpy(rd, &q, offsetof(struct virtio_iommu_req_unmap, tail));
		return offsetof(struct virtio_iommu_req_unmap, tail);
	}
	if (!strcmp(what, "probe")) {
		struct virtio_iommu_req_probe q = { .head.type = VIRTIO_IOMMU_T_PROBE };

		if (want_args(r, 3, 3, "viommu IOMMU probe EP") || u32_arg(r, r->tok[3], "EP", &b))
			return 0;
		q.endpoint = htole32(b);
		memcpy(rd, &q, sizeof(q));
		*probe = true;
		return sizeof(q);
	}
	return syntax(r, "expected viommu IOMMU [offer=LIST] [accept=LIST], or viommu IOMMU "
		      "attach|detach|map|unmap|probe|bypass|events ..., got 'viommu %s %s'",
		      r->tok[1], what), 0;
}

static int cmd_viommu(struct run *r)
{
	struct ap_iommu *iommu;
	const uint8_t *reply;
	uint8_t rd[80];
	size_t len;
	bool probe;
	int err;

	if (r->ntok < 2)
		return syntax(r, "expected 'viommu IOMMU [offer=LIST] [accept=LIST]' or a request");
	iommu = iommu_named(r, r->tok[1]);
	if (!iommu)
		return -ENOENT;
	if (r->ntok == 2 || strchr(r->tok[2], '='))
		return viommu_new(r, iommu);
	if (!strcmp(r->tok[2], "bypass")) {
		uint64_t v;

		if (want_args(r, 3, 3, "viommu IOMMU bypass 0|1") || number(r, r->tok[3], "0|1", &v))
			return SYNTAX;
		return ap__scn_viommu_bypass(r->ctx, iommu, (uint8_t)(v > 255 ? 255 : v));
	}
	if (!strcmp(r->tok[2], "events")) {
		if (want_args(r, 2, 2, "viommu IOMMU events"))
			return SYNTAX;
		err = ap__scn_viommu_events(r->ctx, iommu, r->last.detail, sizeof(r->last.detail),
					    &r->last.events);
		r->last.has_events = !err;
		return err;
	}
	len = viommu_encode(r, rd, &probe);
	if (!len)
		return SYNTAX;
	err = ap__scn_viommu_request(r->ctx, iommu, rd, len, probe, &reply, &r->last.status);
	if (err)
		return err;
	/* The host ran out: the machine's failure, not the guest's answer. */
	if (r->last.status == VIRTIO_IOMMU_S_NOMEM)
		return refuse(r, -ENOMEM, "the virtio-iommu device ran out of memory "
					  "(VIRTIO_IOMMU_S_NOMEM)");
	r->last.has_status = true;
	if (probe && r->last.status == VIRTIO_IOMMU_S_OK) {
		uint32_t psize = 0;

		ap_viommu_config_read(ap_viommu_of(r->ctx, iommu),
				      offsetof(struct virtio_iommu_config, probe_size), &psize, 4);
		describe_props(reply, le32toh(psize), r->last.detail, sizeof(r->last.detail));
	}
	return 0;
}

/* The bytes a scenario DMA write puts in memory, so that reads can be told
 * apart from zeroed RAM. */
static uint8_t pattern_byte(uint64_t iova, size_t i)
{
	return (uint8_t)(0xa5 ^ ((iova + i) & 0xff));
}

static int cmd_dma(struct run *r)
{
	static const char usage[] = "dma DEVICE read|write IOVA LEN";
	struct ap_device *dev;
	uint64_t iova, len;
	uint8_t *buf;
	bool write;
	size_t i;
	int err;

	if (want_args(r, 4, 4, usage) || number(r, r->tok[3], "IOVA", &iova) ||
	    number(r, r->tok[4], "LEN", &len))
		return SYNTAX;
	if (strcmp(r->tok[2], "read") && strcmp(r->tok[2], "write"))
		return syntax(r, "expected read or write, got '%s'", r->tok[2]);
	if (!len || len > MAX_DMA_LEN)
		return syntax(r, "expected LEN 1..256M, got '%s'", r->tok[4]);
	write = r->tok[2][0] == 'w';
	dev = device_named(r, r->tok[1]);
	if (!dev)
		return -ENOENT;
	buf = ap_mem_alloc(r->ctx, (size_t)len);
	if (!buf)
		return refuse(r, -ENOMEM, "out of memory for a %llu-byte DMA buffer",
			      (unsigned long long)len);
	for (i = 0; i < len; i++)
		buf[i] = write ? pattern_byte(iova, i) : 0;
	if (write)
		err = ap_dma_write(dev, iova, buf, (size_t)len, &r->last.record);
	else
		err = ap_dma_read(dev, iova, buf, (size_t)len, &r->last.record);
	if (!write && !err) {
		r->last.has_data = true;
		r->last.ndata = len < MAX_DATA ? (size_t)len : MAX_DATA;
		memcpy(r->last.data, buf, r->last.ndata);
	}
	ap_mem_free(r->ctx, buf);
	if (err == -EFAULT) {
		r->last.fault = r->last.record.kind;
		return 0;
	}
	if (!err)
		r->last.has_pa = ap_device_iova_to_phys(dev, iova, &r->last.pa);
	return err;
}

static int cmd_show(struct run *r)
{
	enum ap_object_type type = AP_OBJECT_ANY;
	const char *name = r->ntok >= 2 ? r->tok[r->ntok - 1] : NULL;
	int err;

	if (want_args(r, 0, 2, "show [[iommu|device|domain|container] NAME]"))
		return SYNTAX;
	if (r->ntok == 3) {
		type = ap_object_type_from_name(r->tok[1]);
		if (type == AP_OBJECT_ANY)
			return syntax(r, "expected iommu, device, domain or container before "
				      "the name, got '%s'", r->tok[1]);
	}
	err = ap_show_as(r->ctx, r->out, AP_VIEW_TEXT, type, name);
	if (err == -ENOENT && type != AP_OBJECT_ANY)
		return refuse(r, err, "no %s called '%s' to show", r->tok[1], name);
	if (err == -ENOENT)
		return refuse(r, err, "nothing called '%s' to show", name);
	return err;
}

static int cmd_dump(struct run *r)
{
	struct ap_domain *dom;
	int err;

	if (want_args(r, 1, 1, "dump DOMAIN"))
		return SYNTAX;
	dom = domain_named(r, r->tok[1]);
	if (!dom)
		return -ENOENT;
	err = ap_dump(dom, r->out);
	if (err)
		return refuse(r, err, "domain '%s' is not a paging domain: nothing to dump",
			      r->tok[1]);
	return 0;
}

/* ------------------------------------------------------------ expect */

/* What the last command did, for a mismatch message or (verbose, with the
 * fault's stream and instance) for the echo of the run. */
static void describe_outcome(const struct outcome *o, bool verbose, char *buf, size_t len)
{
	if (!o->valid)
		snprintf(buf, len, "no command before it");
	else if (o->err)
		snprintf(buf, len, "error %s: %s", ap_errno_name(o->err), o->msg);
	else if (o->fault && verbose)
		snprintf(buf, len, "fault %s (sid 0x%x, iova 0x%llx, on %s)",
			 ap_fault_kind_name(o->fault), o->record.sid,
			 (unsigned long long)o->record.iova, ap_iommu_name(o->record.iommu));
	else if (o->fault)
		snprintf(buf, len, "fault %s at iova 0x%llx", ap_fault_kind_name(o->fault),
			 (unsigned long long)o->record.iova);
	else if (o->has_pa)
		snprintf(buf, len, "ok, pa 0x%llx", (unsigned long long)o->pa);
	else if (o->has_unmapped)
		snprintf(buf, len, "ok, unmapped 0x%llx", (unsigned long long)o->unmapped);
	else if (o->has_dirty)
		snprintf(buf, len, "ok, %llu dirty pages", (unsigned long long)o->dirty);
	else if (o->has_status)
		snprintf(buf, len, "status %s%s%s", status_name(o->status), o->detail[0] ? ": " : "",
			 o->detail);
	else if (o->has_events)
		snprintf(buf, len, "%u event%s%s%s", o->events, o->events == 1 ? "" : "s",
			 o->events ? ": " : "", o->detail);
	else
		snprintf(buf, len, "ok");
}

static int mismatch(struct run *r, const char *want, const char *got)
{
	ap_ctx_set_error(r->ctx, "%s:%d: expected %s, got %s", r->file, r->line, want, got);
	return -EPROTO;
}

/* A command that ran out of memory stops the run with ENOMEM: what it
 * would have done is unknown, so the script is not shown wrong. */
static int expect_outcome(struct run *r, const char *want, bool ok)
{
	char got[600];
	int err;

	if (ok)
		return 0;
	describe_outcome(&r->last, false, got, sizeof(got));
	err = mismatch(r, want, got);
	return r->last.err == -ENOMEM ? -ENOMEM : err;
}

static int expect_geometry(struct run *r, const char *want)
{
	struct ap_domain *dom = ap_domain_find(r->ctx, r->domain);
	struct ap_geometry g;
	uint64_t start, end;
	char got[160];
	bool force_ok = true;

	if (want_args(r, 3, 4, "expect geometry START END [forced|open]") ||
	    number(r, r->tok[2], "START", &start) || number(r, r->tok[3], "END", &end))
		return SYNTAX;
	if (r->ntok == 5 && strcmp(r->tok[4], "forced") && strcmp(r->tok[4], "open"))
		return syntax(r, "expected forced or open, got '%s'", r->tok[4]);
	if (!dom)
		return mismatch(r, want, "no domain named before it");
	ap_domain_geometry(dom, &g);
	if (r->ntok == 5)
		force_ok = g.force == (r->tok[4][0] == 'f');
	snprintf(got, sizeof(got), "geometry 0x%llx 0x%llx %s of '%s'",
		 (unsigned long long)g.start, (unsigned long long)g.end,
		 g.force ? "forced" : "open", ap_domain_name(dom));
	if (g.start != start || g.end != end || !force_ok)
		return mismatch(r, want, got);
	return 0;
}

/* The last-named container's page sizes and usable IOVA, through
 * VFIO_IOMMU_GET_INFO; "" if it cannot say why. */
static int container_info(struct run *r, uint64_t *pgsizes, struct vfio_iova_range *ranges,
			  size_t max, size_t *n, char *why, size_t len)
{
	int err;

	if (!r->container[0]) {
		snprintf(why, len, "no VFIO container named before it");
		return -ENOENT;
	}
	err = ap__scn_vfio_info(r->ctx, r->container, pgsizes, ranges, max, n);
	if (err)
		snprintf(why, len, "error %s (%s)", ap_errno_name(err), ap_ctx_error(r->ctx));
	return err;
}

/* An expectation GET_INFO could not check; out of memory is no mismatch. */
static int info_mismatch(struct run *r, const char *want, const char *got, int err)
{
	int rc = mismatch(r, want, got);

	return err == -ENOMEM ? -ENOMEM : rc;
}

static int expect_container_pgsizes(struct run *r, const char *want, uint64_t bitmap)
{
	uint64_t pgsizes = 0;
	char got[600], list[96];
	size_t n;
	int err;

	err = container_info(r, &pgsizes, NULL, 0, &n, got, sizeof(got));
	if (err)
		return info_mismatch(r, want, got, err);
	snprintf(got, sizeof(got), "pgsizes %s of container '%s'",
		 ap_format_pgsizes(pgsizes, list, sizeof(list)), r->container);
	return pgsizes == bitmap ? 0 : mismatch(r, want, got);
}

static int expect_pgsizes(struct run *r, const char *want)
{
	struct ap_domain *dom = ap_domain_find(r->ctx, r->domain);
	uint64_t bitmap;
	char got[160], list[96];

	if (want_args(r, 2, 2, "expect pgsizes LIST") || size_list(r, r->tok[2], &bitmap))
		return SYNTAX;
	if (r->named_container)
		return expect_container_pgsizes(r, want, bitmap);
	if (!dom)
		return mismatch(r, want, "no domain named before it");
	snprintf(got, sizeof(got), "pgsizes %s of '%s'",
		 ap_format_pgsizes(ap_domain_pgsizes(dom), list, sizeof(list)), ap_domain_name(dom));
	return ap_domain_pgsizes(dom) == bitmap ? 0 : mismatch(r, want, got);
}

#define MAX_IOVAS 32

/* "START-END,START-END": inclusive ranges, as the IOVA_RANGE capability. */
static int range_list(struct run *r, const char *s, struct vfio_iova_range *out, size_t *n)
{
	char buf[MAX_LINE], *save = NULL, *item;

	*n = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(item, '-');
		uint64_t start, end;

		if (!dash || *n == MAX_IOVAS)
			return syntax(r, "expected IOVA ranges START-END[,START-END...] (at most %d), "
				      "got '%s'", MAX_IOVAS, s);
		*dash = '\0';
		if (number(r, item, "START", &start) || number(r, dash + 1, "END", &end))
			return SYNTAX;
		out[(*n)++] = (struct vfio_iova_range){ start, end };
	}
	return 0;
}

static int expect_iova(struct run *r, const char *want)
{
	struct vfio_iova_range wanted[MAX_IOVAS], got_r[MAX_IOVAS];
	size_t nw, ng, at;
	uint64_t pgsizes;
	char got[MAX_LINE];
	int err;

	if (want_args(r, 2, 2, "expect iova START-END[,START-END...]") ||
	    range_list(r, r->tok[2], wanted, &nw))
		return SYNTAX;
	err = container_info(r, &pgsizes, got_r, MAX_IOVAS, &ng, got, sizeof(got));
	if (err)
		return info_mismatch(r, want, got, err);
	at = (size_t)snprintf(got, sizeof(got), "iova ");
	for (size_t i = 0; i < ng && at < sizeof(got); i++)
		at += (size_t)snprintf(got + at, sizeof(got) - at, "%s0x%llx-0x%llx", i ? "," : "",
				       (unsigned long long)got_r[i].start,
				       (unsigned long long)got_r[i].end);
	if (ng != nw || memcmp(wanted, got_r, nw * sizeof(*wanted)))
		return mismatch(r, want, got);
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "expect data a5a4 a7a6": the first bytes a DMA read returned, in memory
 * order, as pairs of hex digits (words only group them for the eye). */
static int expect_data(struct run *r, const char *want)
{
	const struct outcome *o = &r->last;
	uint8_t bytes[MAX_DATA];
	size_t n = 0, i;
	char got[2 * MAX_DATA + 64];
	int t;

	if (want_args(r, 2, MAX_TOKENS - 1, "expect data HEX [HEX...]"))
		return SYNTAX;
	for (t = 2; t < r->ntok; t++) {
		const char *p = r->tok[t];

		for (; *p; p += 2) {
			int hi = hex_digit(p[0]), lo = p[1] ? hex_digit(p[1]) : -1;

			if (hi < 0 || lo < 0)
				return syntax(r, "expected bytes as pairs of hex digits (a5a4a7a6), "
					      "got '%s'", r->tok[t]);
			if (n == MAX_DATA)
				return syntax(r, "expected at most %d bytes of data", MAX_DATA);
			bytes[n++] = (uint8_t)(hi << 4 | lo);
		}
	}
	if (!o->valid || o->err || o->fault || !o->has_data) {
		if (o->valid && !o->err && !o->fault && !o->has_data)
			return mismatch(r, want, "no data: the command before it was not a dma read");
		return expect_outcome(r, want, false);
	}
	if (n > o->ndata)
		return syntax(r, "expected at most the %zu bytes the dma read, got %zu", o->ndata, n);
	if (!memcmp(bytes, o->data, n))
		return 0;
	snprintf(got, sizeof(got), "data ");
	for (i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%02x", o->data[i]);
	return mismatch(r, want, got);
}

static int cmd_expect(struct run *r, const char *want)
{
	static const char usage[] = "expect ok | error ENAME | fault KIND | pa PA | "
				    "unmapped SIZE | geometry START END [forced|open] | "
				    "pgsizes LIST | iova RANGES | dirty N | data HEX | "
				    "status NAME | events N";
	const struct outcome *o = &r->last;
	const char *what = r->ntok > 1 ? r->tok[1] : "";
	uint64_t v;
	int err;

	if (!strcmp(what, "ok")) {
		if (want_args(r, 1, 1, "expect ok"))
			return SYNTAX;
		return expect_outcome(r, want, o->valid && !o->err && !o->fault);
	}
	if (!strcmp(what, "error")) {
		if (want_args(r, 2, 2, "expect error ENAME"))
			return SYNTAX;
		err = ap_errno_from_name(r->tok[2]);
		if (!err)
			return syntax(r, "expected an errno name such as EINVAL, got '%s'", r->tok[2]);
		err = expect_outcome(r, want, o->valid && o->err == -err);
		if (!err)
			r->pending = false;
		return err;
	}
	if (!strcmp(what, "fault")) {
		enum ap_fault_kind kind;

		if (want_args(r, 2, 2, "expect fault KIND"))
			return SYNTAX;
		kind = ap_fault_kind_from_name(r->tok[2]);
		if (!kind)
			return syntax(r, "expected a fault KIND (bad-stream translation address-size "
				      "access-flag permission external), got '%s'", r->tok[2]);
		return expect_outcome(r, want, o->valid && !o->err && o->fault == kind);
	}
	if (!strcmp(what, "pa")) {
		if (want_args(r, 2, 2, "expect pa PA") || number(r, r->tok[2], "PA", &v))
			return SYNTAX;
		return expect_outcome(r, want, o->valid && !o->err && !o->fault && o->has_pa &&
					       o->pa == v);
	}
	if (!strcmp(what, "unmapped")) {
		if (want_args(r, 2, 2, "expect unmapped SIZE") || number(r, r->tok[2], "SIZE", &v))
			return SYNTAX;
		return expect_outcome(r, want, o->valid && !o->err && o->has_unmapped &&
					       o->unmapped == v);
	}
	if (!strcmp(what, "data"))
		return expect_data(r, want);
	if (!strcmp(what, "dirty")) {
		if (want_args(r, 2, 2, "expect dirty N") || number(r, r->tok[2], "N", &v))
			return SYNTAX;
		return expect_outcome(r, want, o->valid && !o->err && o->has_dirty && o->dirty == v);
	}
	if (!strcmp(what, "status")) {
		int st;

		if (want_args(r, 2, 2, "expect status NAME"))
			return SYNTAX;
		for (st = -1; st < 9 && strcmp(status_name(st), r->tok[2]); st++)
			;
		if (st == 9)
			return syntax(r, "expected a status (OK IOERR UNSUPP DEVERR INVAL RANGE NOENT "
				      "FAULT NOMEM UNWRITTEN), got '%s'", r->tok[2]);
		return expect_outcome(r, want, o->valid && !o->err && o->has_status &&
					       o->status == st);
	}
	if (!strcmp(what, "events")) {
		if (want_args(r, 2, 2, "expect events N") || number(r, r->tok[2], "N", &v))
			return SYNTAX;
		return expect_outcome(r, want, o->valid && !o->err && o->has_events &&
					       o->events == v);
	}
	/* the rest look at the machine, not at the outcome: after a failure
	 * nobody expected, that failure is what stops the run */
	if (r->pending && (!strcmp(what, "iova") || !strcmp(what, "geometry") ||
			   !strcmp(what, "pgsizes")))
		return unexpected_failure(r);
	if (!strcmp(what, "iova"))
		return expect_iova(r, want);
	if (!strcmp(what, "geometry"))
		return expect_geometry(r, want);
	if (!strcmp(what, "pgsizes"))
		return expect_pgsizes(r, want);
	return syntax(r, "expected '%s', got 'expect %s'", usage, what);
}

/* ------------------------------------------------------------ the loop */

/* `prints`: the command writes output, so its echo goes before it. */
static const struct {
	const char *name;
	int (*run)(struct run *r);
	bool prints;
} commands[] = {
	{ "ram", cmd_ram, false },       { "iommu", cmd_iommu, false },
	{ "device", cmd_device, false }, { "domain", cmd_domain, false },
	{ "attach", cmd_attach, false }, { "detach", cmd_detach, false },
	{ "map", cmd_map, false },       { "unmap", cmd_unmap, false },
	{ "dma", cmd_dma, false },       { "show", cmd_show, true },
	{ "dump", cmd_dump, true },      { "resv", cmd_resv, false },
	{ "vfio", cmd_vfio, false },     { "pci", cmd_pci, false },
	{ "viommu", cmd_viommu, false }, { "tables", cmd_tables, false },
};

/* Copy the line without its comment and split it into words. */
static int tokenize(struct run *r, const char *line, size_t len)
{
	char *p, *hash, *save = NULL;

	if (len >= sizeof(r->text))
		return syntax(r, "expected a line of at most %d characters, got %zu",
			      MAX_LINE - 1, len);
	memcpy(r->text, line, len);
	r->text[len] = '\0';
	hash = strchr(r->text, '#');
	if (hash)
		*hash = '\0';
	r->ntok = 0;
	for (p = strtok_r(r->text, " \t\r\f\v", &save); p; p = strtok_r(NULL, " \t\r\f\v", &save)) {
		if (r->ntok == MAX_TOKENS)
			return syntax(r, "expected at most %d words on a line", MAX_TOKENS);
		r->tok[r->ntok++] = p;
	}
	return 0;
}

/* "  12  map dma0 0x1000 ...   -> ok": the command as parsed, then its result. */
static void echo(struct run *r, const char *result)
{
	char cmd[MAX_LINE] = "";
	int t;

	if (!(r->flags & AP_SCENARIO_ECHO) || !r->out)
		return;
	for (t = 0; t < r->ntok; t++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", t ? " " : "",
			 r->tok[t]);
	fprintf(r->out, "%4d  %-50s %s\n", r->line, cmd, result);
}

/* A failure nobody expected ends the run, named by its own line. */
static int unexpected_failure(struct run *r)
{
	/* ENOMEM is not always a lack of memory (a locked-memory limit): the
	 * gloss only where the reason does not say what ran out */
	bool gloss = r->last.err == -ENOMEM && !strstr(r->last.msg, "memory");

	ap_ctx_set_error(r->ctx, "%s:%d: %s failed with %s%s: %s (expected by no 'expect error %s')",
			 r->file, r->last.line, r->last.cmd, ap_errno_name(r->last.err),
			 gloss ? " (out of memory)" : "", r->last.msg, ap_errno_name(r->last.err));
	return r->last.err;
}

static int run_line(struct run *r, const char *line, size_t len)
{
	char result[700];
	size_t i;
	int rc;

	if (tokenize(r, line, len))
		return -EINVAL;
	if (!r->ntok)
		return 0;
	if (!strcmp(r->tok[0], "expect")) {
		char want[MAX_LINE] = "";
		int t;

		for (t = 1; t < r->ntok; t++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
				 t > 1 ? " " : "", r->tok[t]);
		rc = cmd_expect(r, want);
		if (rc == SYNTAX)
			return -EINVAL;
		if (rc)
			return rc;
		echo(r, "holds");
		return 0;
	}
	if (r->pending)
		return unexpected_failure(r);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, r->tok[0]))
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		syntax(r, "expected a command (ram tables iommu device resv domain attach detach "
			  "map unmap dma vfio pci viommu show dump expect), got '%s'", r->tok[0]);
		return -EINVAL;
	}
	r->commands++;
	memset(&r->last, 0, sizeof(r->last));
	r->last.valid = true;
	r->last.line = r->line;
	snprintf(r->last.cmd, sizeof(r->last.cmd), "%s", r->tok[0]);
	if (commands[i].prints)
		echo(r, "");
	rc = commands[i].run(r);
	if (rc == SYNTAX) {
		r->last.valid = false;
		return -EINVAL;
	}
	r->last.err = rc;
	if (rc) {
		snprintf(r->last.msg, sizeof(r->last.msg), "%s", ap_ctx_error(r->ctx));
		r->pending = true;
	}
	if (commands[i].prints && !rc)
		return 0;
	strcpy(result, "-> ");
	describe_outcome(&r->last, true, result + 3, sizeof(result) - 3);
	echo(r, result);
	return 0;
}

int ap_scenario_run(struct ap_ctx *ctx, const char *name, const char *text, FILE *out,
		    unsigned flags)
{
	struct run *r;
	const char *p = text;
	int rc = 0;

	if (!ctx || !text)
		return -EINVAL;
	r = ap_mem_alloc(ctx, sizeof(*r));
	if (!r) {
		ap_ctx_set_error(ctx, "%s: out of memory to run it", name ? name : "<scenario>");
		return -ENOMEM;
	}
	r->ctx = ctx;
	r->file = name ? name : "<scenario>";
	r->out = out;
	r->flags = flags;
	if (!strncmp(p, "\xef\xbb\xbf", 3))
		p += 3; /* a UTF-8 byte-order mark, as some editors write */
	while (*p && !rc) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		r->line++;
		rc = run_line(r, p, len);
		p += len + (nl ? 1 : 0);
	}
	if (!rc && r->pending)
		rc = unexpected_failure(r);
	if (!rc && !r->commands && (flags & AP_SCENARIO_NEED_COMMANDS)) {
		ap_ctx_set_error(ctx, "%s: no commands in it: nothing ran", r->file);
		rc = -ENODATA;
	}
	ap_mem_free(ctx, r);
	return rc;
}

int ap_scenario_exec(struct ap_ctx *ctx, const char *text)
{
	return ap_scenario_run(ctx, "<scenario>", text, stdout, 0);
}

int ap_scenario_run_stream(struct ap_ctx *ctx, const char *name, FILE *in, FILE *out,
			   unsigned flags)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!ctx || !in)
		return -EINVAL;
	name = name ? name : "<scenario>";
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *grown = ap_mem_realloc(ctx, text, cap = cap ? cap * 2 : 65536);

			if (!grown) {
				ap_mem_free(ctx, text);
				ap_ctx_set_error(ctx, "out of memory reading %s", name);
				return -ENOMEM;
			}
			text = grown;
		}
		size_t got = fread(text + len, 1, cap - len - 1, in);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(in)) {
		ap_mem_free(ctx, text);
		ap_ctx_set_error(ctx, "cannot read %s", name);
		return -EIO;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		ap_mem_free(ctx, text);
		ap_ctx_set_error(ctx, "%s: expected text, got a NUL byte at offset %zu", name,
				 strlen(text));
		return -EINVAL;
	}
	rc = ap_scenario_run(ctx, name, text, out, flags);
	ap_mem_free(ctx, text);
	return rc;
}

int ap_scenario_run_file(struct ap_ctx *ctx, const char *path, FILE *out, unsigned flags)
{
	FILE *f;
	int rc, err;

	if (!ctx || !path)
		return -EINVAL;
	f = fopen(path, "rb");
	if (!f) {
		err = errno;
		ap_ctx_set_error(ctx, "cannot open %s: %s", path, strerror(err));
		return -err;
	}
	rc = ap_scenario_run_stream(ctx, path, f, out, flags);
	fclose(f);
	return rc;
}
