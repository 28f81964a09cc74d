// SPDX-License-Identifier: GPL-2.0
/*
 * lbctl: the thin client of lbd. It sends its words to the daemon, which
 * parses and answers them (one grammar for the CLI and the config file),
 * and prints the reply: rows to stdout, an error to stderr with exit 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

static const char usage_text[] =
	"usage: lbctl [-j] [-s SOCKET] COMMAND\n"
	"  attach DEV [--xdp-mode native|generic]\n"
	"  detach DEV\n"
	"  vip add ADDR:PORT/tcp|udp [--forward dsr|ipip] [--sched maglev|maglev-src] [--ring-size M]\n"
	"          [--all-down open|drop] [CHECK...]\n"
	"  vip del ADDR:PORT/PROTO\n"
	"  vip list\n"
	"  backend add ADDR:PORT/PROTO BACKEND_ADDR [--weight W] [CHECK...]\n"
	"  backend set ADDR:PORT/PROTO BACKEND_ADDR [--weight W] [--drain|--enable] [--up|--down|--auto]\n"
	"          [CHECK...]\n"
	"  backend del ADDR:PORT/PROTO BACKEND_ADDR\n"
	"  backend list ADDR:PORT/PROTO\n"
	"  show\n"
	"  stats [--watch SECS]\n"
	"  config show | reload\n"
	"  vrrp add DEV --vrid N [--priority 100] [--advert 1s] [--no-preempt] [--preempt-delay 5s]\n"
	"          [--fault-drop 50] [--vmac] --vip ADDR...\n"
	"  vrrp del DEV --vrid N\n"
	"  vrrp show\n"
	"CHECK: --check tcp|http:/PATH|udp[:PAYLOAD]|exec:CMD|none --interval 1s --timeout 500ms\n"
	"       --rise 2 --fall 3 --slow-start 30s --expect 200-399 --host NAME\n"
	"IPv6 addresses go in brackets: [2001:db8::1]:80/tcp. -j prints JSON.\n";

/* Sends one request and prints the reply; returns the exit status. */
static int request(const char *socket_path, bool json, int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[CTL_MAX_REQUEST + 2], *line = NULL;
	size_t line_cap = 0;
	size_t len = 0;
	int fd, status = 1;
	FILE *in;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lbctl: socket path %s is too long\n", socket_path);
		return 1;
	}
	strcpy(sa.sun_path, socket_path);
	len = (size_t)snprintf(buf, sizeof(buf), "%s", json ? "j" : "-");
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], CTL_SEP) || strchr(argv[i], '\n') ||
		    len + strlen(argv[i]) + 2 > CTL_MAX_REQUEST) {
			fprintf(stderr, "lbctl: argument '%s' is too long or holds a control character\n", argv[i]);
			return 1;
		}
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%c%s", CTL_SEP, argv[i]);
	}
	buf[len++] = '\n';

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "lbctl: cannot reach lbd at %s: %s (is lbd running? give -s SOCKET)\n",
			socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* lbd may refuse (not root) before reading: its reason is still there to read. */
	if (write(fd, buf, len) != (ssize_t)len && errno != EPIPE) {
		fprintf(stderr, "lbctl: cannot send to lbd: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	in = fdopen(fd, "r");
	/* getline: one JSON reply is a single line of any length. */
	bool answered = false;

	while (in && getline(&line, &line_cap, in) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "row ", 4) || !strcmp(line, "row")) {
			puts(line[3] ? line + 4 : "");
		} else if (!strcmp(line, "done")) {
			status = 0;
			answered = true;
			break;
		} else if (!strncmp(line, "error ", 6)) {
			fprintf(stderr, "lbctl: %s\n", line + 6);
			answered = true;
			break;
		}
	}
	if (!answered)
		fprintf(stderr, "lbctl: lbd at %s closed the connection without an answer: see its log\n",
			socket_path);
	free(line);
	if (in)
		fclose(in);
	else
		close(fd);
	return status;
}

int main(int argc, char **argv)
{
	const char *socket_path = getenv("LBCTL_SOCKET") ? getenv("LBCTL_SOCKET") : CTL_DEFAULT_SOCKET;
	bool json = false;
	long watch = 0;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) {
			if (++i == argc) {
				fprintf(stderr, "lbctl: -s needs a socket path\n");
				return 2;
			}
			socket_path = argv[i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			fprintf(stderr, "lbctl: unknown option '%s': see lbctl --help\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (i == argc) {
		fprintf(stderr, "lbctl: no command given: see lbctl help\n");
		return 2;
	}
	if (!strcmp(argv[i], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	/* stats --watch SECS is the client's loop: the daemon answers one snapshot at a time. */
	if (!strcmp(argv[i], "stats") && i + 1 < argc && !strcmp(argv[i + 1], "--watch")) {
		char *end;

		watch = i + 2 < argc ? strtol(argv[i + 2], &end, 10) : 0;
		if (i + 3 != argc || watch < 1 || *end) {
			fprintf(stderr, "lbctl: stats --watch needs a number of seconds, e.g. stats --watch 1\n");
			return 2;
		}
		for (;;) {
			if (request(socket_path, json, 1, argv + i))
				return 1;
			fflush(stdout);
			sleep((unsigned int)watch);
			if (!json)
				puts("");
		}
	}
	return request(socket_path, json, argc - i, argv + i);
}
