/* SPDX-License-Identifier: MIT */
/*
 * IOMMU kinds.  Everything that differs between kinds of IOMMU hardware is
 * a field or an operation of its model (struct ap_iommu_model), one file a
 * kind in this folder, registered in registry.c.  The rest of the core asks
 * an instance's model and never which kind it is; doc/kinds/ has the facts
 * each model implements and their sources.
 *
 * Operations get the instance's configuration (already checked by the
 * model's check()) or the instance itself.  Optional operations are NULL
 * when the kind has nothing to add; the comment says what the core does
 * then.
 */
#ifndef AP_CORE_KIND_H
#define AP_CORE_KIND_H

#include "../internal.h"

/* Where a new device's stream lands (stream_match), until it is bound. */
struct ap_stream_match {
	int slot;               /* the kind's entry for the stream (an SMR) */
	bool shared;            /* an entry other devices already use */
	struct ap_group *group; /* shared: the group of those devices */
};

struct ap_iommu_model {
	enum ap_iommu_kind kind;
	const char *name;  /* "arm-smmu-v3" */
	const char *usage; /* its own options, "stage=1|2", for messages */

	/* Its defaults, after the generic ones are set. */
	void (*config_init)(struct ap_iommu_config *cfg);
	/* One of its own options from text: 0, -ENOENT (not its key), or
	 * -EINVAL with *expected set; cfg unchanged on error. */
	int (*config_set)(struct ap_iommu_config *cfg, const char *key, const char *value,
			  const char **expected);
	/* Its own options that differ from its defaults, appended to buf at
	 * `at` as "key=value" words (ap__word); returns the new length. */
	size_t (*config_format)(const struct ap_iommu_config *cfg, char *buf, size_t len,
				size_t at);
	/* Every capability within the hardware's limits, or a message
	 * through ap__err and -EINVAL / -EOPNOTSUPP. */
	int (*check)(struct ap_ctx *ctx, const struct ap_iommu_config *cfg);

	/* Instance state of its own (stream match registers, context
	 * banks): allocated with ap__zalloc at ap_iommu_new, released with
	 * the instance.  NULL: none. */
	int (*init)(struct ap_iommu *iommu);
	void (*release)(struct ap_iommu *iommu);

	/* The table format, and the input width of the table, that a paging
	 * domain allocated for this instance gets. */
	enum ap_pt_format (*format)(const struct ap_iommu_config *cfg);
	unsigned (*table_ias)(const struct ap_iommu_config *cfg);
	/* Whether this instance can walk a table of format `fmt` at all. */
	bool (*walks_format)(const struct ap_iommu_config *cfg, enum ap_pt_format fmt);
	/* The input width it walks a table of tbl_ias bits with (at most its
	 * own ias and tbl_ias), or -EINVAL with a message.  NULL: the smaller
	 * of the two, as any width can be programmed. */
	int (*walk_ias)(struct ap_ctx *ctx, const struct ap_iommu *iommu, unsigned tbl_ias,
			unsigned *out);

	/* Tags its IOTLB entries carry for a domain: [first, end) in the
	 * core's 16-bit tag space (0 is never a tag), what it calls them,
	 * and the number ap_domain_tag() reports for a tag (NULL: the tag
	 * itself).  Running out is -ENOSPC at attach. */
	void (*tag_range)(const struct ap_iommu *iommu, unsigned *first, unsigned *end);
	const char *(*tag_name)(const struct ap_iommu_config *cfg);
	int (*tag_value)(const struct ap_iommu *iommu, uint16_t tag);

	/* Stream matching.  stream_match decides, without changing anything,
	 * where a device with (sid, mask) lands, or refuses it with a message
	 * (-EINVAL, -ENOSPC, -EEXIST); stream_bind then records it and cannot
	 * fail.  NULL: exact matching, one device per stream ID. */
	int (*stream_match)(struct ap_ctx *ctx, const struct ap_iommu *iommu, uint32_t sid,
			    uint32_t mask, struct ap_stream_match *m);
	void (*stream_bind)(struct ap_iommu *iommu, const struct ap_stream_match *m, uint32_t sid,
			    uint32_t mask, struct ap_group *group);

	/* The highest address an untranslated transaction (a passed
	 * unmatched stream, an identity domain, an open aperture) may carry;
	 * beyond it the hardware refuses it with an address-size fault. */
	uint64_t (*bypass_limit)(const struct ap_iommu_config *cfg);

	/* Reserved regions the driver gives every device of the instance
	 * (its MSI window); fills up to max, returns how many there are. */
	size_t (*resv)(const struct ap_iommu *iommu, struct ap_resv *out, size_t max);

	/* Linux's iommu_capable() answers. */
	bool (*capable)(const struct ap_iommu *iommu, enum ap_iommu_cap cap);

	/* The registers as the hardware names them, from the format's
	 * values; `tag` is the attachment's (its context bank, say). */
	void (*reg_view)(const struct ap_iommu *iommu, uint16_t tag, const struct ap_pt_regs *regs,
			 struct ap_reg_view *out);
	/* Lines `show` prints about the instance; NULL: none. */
	size_t (*facts)(const struct ap_iommu *iommu, struct ap_iommu_fact *out, size_t max);
};

/* registry.c: the kinds this build has; NULL for an unknown kind. */
const struct ap_iommu_model *ap__model(enum ap_iommu_kind kind);
const struct ap_iommu_model *ap__model_by_name(const char *name);
const struct ap_iommu_model *ap__model_next(const struct ap_iommu_model *prev);

/* What kinds share: helpers in common.c. */
void ap__reg_push(struct ap_reg_view *v, const char *name, uint64_t value, unsigned style,
		  unsigned digits);
size_t ap__fact(struct ap_iommu_fact *out, size_t max, size_t n, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int ap__parse_u32(const char *value, unsigned *out);
size_t ap__cat(char *buf, size_t len, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
size_t ap__word(char *buf, size_t len, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The ARM LPAE side arm-smmu-v3 and arm-smmu share (lpae.c). */
enum ap_pt_format ap__lpae_format(unsigned stage);
bool ap__lpae_oas_valid(unsigned oas);
int ap__lpae_check_pgsizes(struct ap_ctx *ctx, const char *kind, uint64_t pgsizes,
			   uint64_t allowed);
uint64_t ap__lpae_bypass_limit(const struct ap_iommu_config *cfg);
void ap__lpae_reg_view(const struct ap_pt_regs *r, const char *const names[3],
		       struct ap_reg_view *out);
size_t ap__lpae_resv(const struct ap_iommu *iommu, struct ap_resv *out, size_t max);
bool ap__lpae_capable(const struct ap_iommu *iommu, enum ap_iommu_cap cap);

#endif /* AP_CORE_KIND_H */
