/* SPDX-License-Identifier: MIT */
/*
 * QEMU's qtest protocol, client side (see qtest.h).  One command a line,
 * one reply a line: "OK", "OK VALUE" or "FAIL ...".  Replies are read with
 * a timeout so that a QEMU that hangs fails the test instead of holding it.
 */
#include "qtest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define QT_TIMEOUT_MS 30000
#define QT_MAX_ARGS 64

struct qtest {
	pid_t pid;
	int to_qemu;   /* its stdin */
	int from_qemu; /* its stdout */
	char rbuf[1 << 16];
	size_t rlen;
	char line[1 << 16]; /* the last reply */
	bool failed;
	char error[512];
	char cmdline[1024];
	char errlog[64]; /* its stderr, a temporary file */
	char bin[256];
	char bios[64];   /* the halting firmware of a running machine, or "" */
	uint64_t next_bar; /* where the next BAR goes */
};

static const char *qemu_binary(void)
{
	const char *env = getenv("AP_QEMU");

	return env && *env ? env : "qemu-system-x86_64";
}

/* Whether `name` (a path, or a name looked up in PATH) can be executed. */
static bool executable(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);

		if (n && n + strlen(name) + 2 < sizeof(buf)) {
			memcpy(buf, path, n);
			buf[n] = '/';
			strcpy(buf + n + 1, name);
			if (access(buf, X_OK) == 0)
				return true;
		}
		path = end ? end + 1 : NULL;
	}
	return false;
}

bool qtest_available(void)
{
	return executable(qemu_binary());
}

static void fail(struct qtest *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct qtest *q, const char *fmt, ...)
{
	va_list ap;

	if (q->failed)
		return;
	q->failed = true;
	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
}

bool qtest_failed(const struct qtest *q)
{
	return q->failed;
}

const char *qtest_error(const struct qtest *q)
{
	return q->failed ? q->error : "";
}

const char *qtest_cmdline(const struct qtest *q)
{
	return q->cmdline;
}

/* Whether this QEMU has the qtest accelerator (Debian's has not). */
static bool has_qtest_accel(void)
{
	static int known = -1;
	char cmd[512];
	char line[256];
	FILE *p;

	if (known >= 0)
		return known;
	known = 0;
	snprintf(cmd, sizeof(cmd), "%s -accel help 2>/dev/null", qemu_binary());
	p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "qtest", 5))
			known = 1;
	pclose(p);
	return known;
}

/* Split `s` (modified in place) at spaces into argv[*argc...]. */
static int split_args(char *s, char **argv, int *argc)
{
	char *save = NULL;
	char *tok;

	for (tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (*argc >= QT_MAX_ARGS - 1)
			return -1;
		argv[(*argc)++] = tok;
	}
	return 0;
}

static void child(int in_fd, int out_fd, int err_fd, char **argv)
{
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	execvp(argv[0], argv);
	_exit(127);
}

/* The first line of what QEMU printed on stderr, for an error message. */
static void stderr_excerpt(const struct qtest *q, char *out, size_t len)
{
	FILE *f = fopen(q->errlog, "r");

	out[0] = 0;
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

static bool read_line(struct qtest *q);

/* Firmware that halts: 64 KiB of HLT, so that the reset vector stops the
 * CPU for good (interrupts are off at reset) while the clocks run. */
static int write_hlt_bios(char *path, size_t len)
{
	uint8_t buf[4096];
	int fd, i, ok = 1;

	snprintf(path, len, "/tmp/ap-qtest-bios-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	memset(buf, 0xf4, sizeof(buf));
	for (i = 0; i < 16 && ok; i++)
		ok = write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
	close(fd);
	if (!ok) {
		unlink(path);
		return -1;
	}
	return 0;
}

struct qtest *qtest_start(const char *args, const char **why)
{
	return qtest_start_ex(args, false, why);
}

struct qtest *qtest_start_ex(const char *args, bool running, const char **why)
{
	static char fixed[] = "-machine q35 -nodefaults -display none -m 256M "
			      "-qtest stdio -qtest-log /dev/null";
	char *argv[QT_MAX_ARGS];
	char *extra = NULL, *base = NULL;
	int argc = 0, in[2] = { -1, -1 }, out[2] = { -1, -1 }, err_fd;
	struct qtest *q;
	int i;

	if (why)
		*why = NULL;
	if (!qtest_available()) {
		if (why)
			*why = "qemu-system-x86_64 not found (Debian: apt-get install "
			       "qemu-system-x86)";
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	base = strdup(fixed);
	extra = strdup(args ? args : "");
	if (!q || !base || !extra)
		goto nomem;
	snprintf(q->bin, sizeof(q->bin), "%s", qemu_binary());
	argv[argc++] = q->bin;
	argv[argc++] = "-accel";
	argv[argc++] = has_qtest_accel() ? "qtest" : "tcg";
	if (!running) {
		argv[argc++] = "-S";
	} else {
		if (write_hlt_bios(q->bios, sizeof(q->bios))) {
			if (why)
				*why = "cannot write the halting firmware";
			goto out_free;
		}
		argv[argc++] = "-bios";
		argv[argc++] = q->bios;
	}
	if (split_args(base, argv, &argc) || split_args(extra, argv, &argc)) {
		if (why)
			*why = "too many QEMU arguments";
		goto out_free;
	}
	argv[argc] = NULL;
	for (i = 0; i < argc; i++) {
		size_t at = strlen(q->cmdline);

		snprintf(q->cmdline + at, sizeof(q->cmdline) - at, "%s%s", i ? " " : "", argv[i]);
	}
	strcpy(q->errlog, "/tmp/ap-qtest-XXXXXX");
	err_fd = mkstemp(q->errlog);
	if (err_fd < 0 || pipe(in) || pipe(out)) {
		if (why)
			*why = "cannot create pipes for QEMU";
		goto out_close;
	}
	signal(SIGPIPE, SIG_IGN); /* a QEMU that died is an error, not a signal */
	q->pid = fork();
	if (q->pid == 0) {
		close(in[1]);
		close(out[0]);
		child(in[0], out[1], err_fd, argv);
	}
	close(in[0]);
	close(out[1]);
	close(err_fd);
	q->to_qemu = in[1];
	q->from_qemu = out[0];
	fcntl(q->to_qemu, F_SETFD, FD_CLOEXEC);
	fcntl(q->from_qemu, F_SETFD, FD_CLOEXEC);
	if (q->pid < 0) {
		if (why)
			*why = "fork failed";
		goto out_pipes;
	}
	free(base);
	free(extra);
	/* A first command proves the machine came up (a bad -device makes
	 * QEMU exit before it answers). */
	qtest_inb(q, 0x80);
	if (q->failed) {
		static char msg[600];
		char excerpt[400];

		stderr_excerpt(q, excerpt, sizeof(excerpt));
		snprintf(msg, sizeof(msg), "QEMU did not start: %s", excerpt[0] ? excerpt : q->error);
		if (why)
			*why = msg;
		qtest_quit(q);
		return NULL;
	}
	return q;

out_pipes:
	close(q->to_qemu);
	close(q->from_qemu);
	unlink(q->errlog);
	if (q->bios[0])
		unlink(q->bios);
	free(q);
	return NULL;
out_close:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (err_fd >= 0) {
		close(err_fd);
		unlink(q->errlog);
	}
	goto out_free;
nomem:
	if (why)
		*why = "out of memory";
out_free:
	if (q && q->bios[0])
		unlink(q->bios);
	free(base);
	free(extra);
	free(q);
	return NULL;
}

void qtest_quit(struct qtest *q)
{
	int status;
	int i;

	if (!q)
		return;
	close(q->to_qemu);
	close(q->from_qemu);
	/* The qtest protocol has no "quit"; QEMU stops on SIGTERM. */
	kill(q->pid, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(q->pid, &status, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	if (i == 200) {
		kill(q->pid, SIGKILL);
		waitpid(q->pid, &status, 0);
	}
	unlink(q->errlog);
	if (q->bios[0])
		unlink(q->bios);
	free(q);
}

/* One reply line into q->line (without the newline). */
static bool read_line(struct qtest *q)
{
	for (;;) {
		char *nl = memchr(q->rbuf, '\n', q->rlen);
		struct pollfd pfd = { .fd = q->from_qemu, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - q->rbuf);

			memcpy(q->line, q->rbuf, len);
			q->line[len] = 0;
			memmove(q->rbuf, nl + 1, q->rlen - len - 1);
			q->rlen -= len + 1;
			/* Interrupt notices come unasked; we poll instead. */
			if (!strncmp(q->line, "IRQ", 3))
				continue;
			return true;
		}
		if (q->rlen == sizeof(q->rbuf)) {
			fail(q, "reply longer than %zu bytes", sizeof(q->rbuf));
			return false;
		}
		n = poll(&pfd, 1, QT_TIMEOUT_MS);
		if (n == 0) {
			fail(q, "no reply from QEMU within %d ms", QT_TIMEOUT_MS);
			return false;
		}
		n = read(q->from_qemu, q->rbuf + q->rlen, sizeof(q->rbuf) - q->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			char excerpt[400];

			stderr_excerpt(q, excerpt, sizeof(excerpt));
			fail(q, "QEMU exited%s%s", excerpt[0] ? ": " : "", excerpt);
			return false;
		}
		q->rlen += (size_t)n;
	}
}

/* Send one command; the reply's text after "OK" (maybe ""), or NULL. */
static const char *command(struct qtest *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *command(struct qtest *q, const char *fmt, ...)
{
	static char cmd[1 << 17];
	va_list ap;
	size_t len, off = 0;
	int n;

	if (q->failed)
		return NULL;
	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 1) {
		fail(q, "command too long");
		return NULL;
	}
	len = (size_t)n;
	cmd[len++] = '\n';
	while (off < len) {
		ssize_t w = write(q->to_qemu, cmd + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fail(q, "QEMU closed its input");
			return NULL;
		}
		off += (size_t)w;
	}
	if (!read_line(q))
		return NULL;
	if (strncmp(q->line, "OK", 2)) {
		cmd[len - 1] = 0;
		fail(q, "'%.80s' answered '%.200s'", cmd, q->line);
		return NULL;
	}
	return q->line[2] == ' ' ? q->line + 3 : q->line + 2;
}

static uint64_t value(struct qtest *q, const char *reply)
{
	char *end;
	uint64_t v;

	if (!reply)
		return 0;
	errno = 0;
	v = strtoull(reply, &end, 0);
	if (errno || end == reply) {
		fail(q, "reply '%.80s' is not a number", reply);
		return 0;
	}
	return v;
}

void qtest_outb(struct qtest *q, uint16_t port, uint8_t v)
{
	command(q, "outb 0x%x 0x%x", port, v);
}

void qtest_outw(struct qtest *q, uint16_t port, uint16_t v)
{
	command(q, "outw 0x%x 0x%x", port, v);
}

void qtest_outl(struct qtest *q, uint16_t port, uint32_t v)
{
	command(q, "outl 0x%x 0x%x", port, v);
}

uint8_t qtest_inb(struct qtest *q, uint16_t port)
{
	return (uint8_t)value(q, command(q, "inb 0x%x", port));
}

uint16_t qtest_inw(struct qtest *q, uint16_t port)
{
	return (uint16_t)value(q, command(q, "inw 0x%x", port));
}

uint32_t qtest_inl(struct qtest *q, uint16_t port)
{
	return (uint32_t)value(q, command(q, "inl 0x%x", port));
}

void qtest_writeb(struct qtest *q, uint64_t addr, uint8_t v)
{
	command(q, "writeb 0x%" PRIx64 " 0x%x", addr, v);
}

void qtest_writew(struct qtest *q, uint64_t addr, uint16_t v)
{
	command(q, "writew 0x%" PRIx64 " 0x%x", addr, v);
}

void qtest_writel(struct qtest *q, uint64_t addr, uint32_t v)
{
	command(q, "writel 0x%" PRIx64 " 0x%x", addr, v);
}

void qtest_writeq(struct qtest *q, uint64_t addr, uint64_t v)
{
	command(q, "writeq 0x%" PRIx64 " 0x%" PRIx64, addr, v);
}

uint8_t qtest_readb(struct qtest *q, uint64_t addr)
{
	return (uint8_t)value(q, command(q, "readb 0x%" PRIx64, addr));
}

uint16_t qtest_readw(struct qtest *q, uint64_t addr)
{
	return (uint16_t)value(q, command(q, "readw 0x%" PRIx64, addr));
}

uint32_t qtest_readl(struct qtest *q, uint64_t addr)
{
	return (uint32_t)value(q, command(q, "readl 0x%" PRIx64, addr));
}

uint64_t qtest_readq(struct qtest *q, uint64_t addr)
{
	return value(q, command(q, "readq 0x%" PRIx64, addr));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Chunks keep every command line well below the protocol's buffers. */
#define QT_CHUNK 4096

void qtest_memread(struct qtest *q, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		size_t n = len < QT_CHUNK ? len : QT_CHUNK;
		const char *r = command(q, "read 0x%" PRIx64 " 0x%zx", addr, n);
		size_t i;

		if (!r || strncmp(r, "0x", 2) || strlen(r) != 2 + 2 * n) {
			memset(out, 0, len);
			fail(q, "read of %zu bytes at 0x%" PRIx64 " answered badly", n, addr);
			return;
		}
		for (i = 0; i < n; i++) {
			int hi = hexval(r[2 + 2 * i]), lo = hexval(r[3 + 2 * i]);

			if (hi < 0 || lo < 0) {
				fail(q, "read reply has a bad hex digit");
				return;
			}
			out[i] = (uint8_t)(hi << 4 | lo);
		}
		out += n;
		addr += n;
		len -= n;
	}
}

void qtest_memwrite(struct qtest *q, uint64_t addr, const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	static char hex[2 * QT_CHUNK + 1];
	const uint8_t *in = buf;

	while (len) {
		size_t n = len < QT_CHUNK ? len : QT_CHUNK;
		size_t i;

		for (i = 0; i < n; i++) {
			hex[2 * i] = digits[in[i] >> 4];
			hex[2 * i + 1] = digits[in[i] & 15];
		}
		hex[2 * n] = 0;
		command(q, "write 0x%" PRIx64 " 0x%zx 0x%s", addr, n, hex);
		in += n;
		addr += n;
		len -= n;
	}
}

void qtest_memset(struct qtest *q, uint64_t addr, uint8_t v, size_t len)
{
	if (len)
		command(q, "memset 0x%" PRIx64 " 0x%zx 0x%x", addr, len, v);
}

/* ---------------------------------------------------------------- PCI */

static void pci_select(struct qtest *q, unsigned devfn, unsigned off)
{
	qtest_outl(q, 0xcf8, 0x80000000u | (devfn & 0xff) << 8 | (off & 0xfc));
}

uint32_t qtest_pci_read(struct qtest *q, unsigned devfn, unsigned off, unsigned size)
{
	pci_select(q, devfn, off);
	switch (size) {
	case 1:
		return qtest_inb(q, (uint16_t)(0xcfc + (off & 3)));
	case 2:
		return qtest_inw(q, (uint16_t)(0xcfc + (off & 2)));
	default:
		return qtest_inl(q, 0xcfc);
	}
}

void qtest_pci_write(struct qtest *q, unsigned devfn, unsigned off, unsigned size, uint32_t v)
{
	pci_select(q, devfn, off);
	switch (size) {
	case 1:
		qtest_outb(q, (uint16_t)(0xcfc + (off & 3)), (uint8_t)v);
		break;
	case 2:
		qtest_outw(q, (uint16_t)(0xcfc + (off & 2)), (uint16_t)v);
		break;
	default:
		qtest_outl(q, 0xcfc, v);
	}
}

/* Where BARs go: inside q35's 32-bit PCI window, clear of MMCONFIG
 * (0xb0000000, 256 MiB) and the IOAPIC/LAPIC (0xfec00000 up). */
#define BAR_BASE 0xc0000000ull

void qtest_pci_setup(struct qtest *q, unsigned devfn, uint64_t addr[6])
{
	unsigned bar;

	if (!q->next_bar)
		q->next_bar = BAR_BASE;
	for (bar = 0; bar < 6; bar++) {
		unsigned off = 0x10 + 4 * bar;
		uint32_t orig = qtest_pci_read(q, devfn, off, 4);
		uint64_t mask, size;
		bool is64;

		addr[bar] = 0;
		if (orig & 1) /* I/O space */
			continue;
		is64 = (orig & 6) == 4;
		qtest_pci_write(q, devfn, off, 4, 0xffffffff);
		mask = qtest_pci_read(q, devfn, off, 4) & ~0xfull;
		if (is64) {
			qtest_pci_write(q, devfn, off + 4, 4, 0xffffffff);
			mask |= (uint64_t)qtest_pci_read(q, devfn, off + 4, 4) << 32;
		} else {
			mask |= 0xffffffff00000000ull;
		}
		if (!(mask & 0xffffffff)) {
			bar += is64;
			continue;
		}
		size = ~mask + 1;
		q->next_bar = (q->next_bar + size - 1) & ~(size - 1);
		addr[bar] = q->next_bar;
		qtest_pci_write(q, devfn, off, 4, (uint32_t)q->next_bar);
		if (is64)
			qtest_pci_write(q, devfn, off + 4, 4, (uint32_t)(q->next_bar >> 32));
		q->next_bar += size;
		bar += is64;
	}
	/* memory space and bus mastering */
	qtest_pci_write(q, devfn, 0x04, 2, 0x6);
}

int qtest_pci_find(struct qtest *q, uint16_t vendor, uint16_t device)
{
	unsigned devfn;

	for (devfn = 0; devfn < 256; devfn++) {
		uint32_t id = qtest_pci_read(q, devfn, 0, 4);

		if (q->failed)
			return -1;
		if (id == ((uint32_t)device << 16 | vendor))
			return (int)devfn;
	}
	return -1;
}
