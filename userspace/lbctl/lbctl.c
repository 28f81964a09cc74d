// SPDX-License-Identifier: GPL-2.0
/*
 * lbctl: the thin client of lbd. It sends its words to the daemon, which
 * parses and answers them (one grammar for the CLI and the config file),
 * and prints the reply: rows to stdout, an error to stderr with exit 1.
 * Its help and its bash completion come from the grammar lbd parses with.
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
#include "grammar.h"

/* Sends one request and prints the reply; returns the exit status. */
static int request(const char *socket_path, bool json, int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[CTL_MAX_REQUEST + 1], *line = NULL;
	size_t line_cap = 0;
	size_t len = 0;
	int fd, status = 1;
	FILE *in;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lbctl: socket path %s is too long\n", socket_path);
		return 1;
	}
	strcpy(sa.sun_path, socket_path);
	/* lbd refuses what does not fit; saying so here names the cause before anything is sent. */
	if (argc > CTL_MAX_ARGS) {
		fprintf(stderr, "lbctl: the command has %d words, more than the %d lbd accepts: "
			"split it into several commands\n", argc, CTL_MAX_ARGS);
		return 1;
	}
	len = (size_t)snprintf(buf, sizeof(buf), "%s", json ? "j" : "-");
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], CTL_SEP) || strchr(argv[i], '\n')) {
			fprintf(stderr, "lbctl: argument '%s' holds a newline or the control character 0x1f\n",
				argv[i]);
			return 1;
		}
		/* the separator, the word and the final newline */
		if (len + 1 + strlen(argv[i]) + 1 > CTL_MAX_REQUEST) {
			size_t total = len + 1;

			for (int k = i; k < argc; k++)
				total += 1 + strlen(argv[k]);
			fprintf(stderr, "lbctl: the command is %zu bytes long, more than the %d lbd accepts: "
				"split it into several commands\n", total, CTL_MAX_REQUEST);
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
	/*
	 * The whole reply is read before any of it is printed: lbd drops a
	 * client that does not read its reply within 10 s, and a pager
	 * (lbctl show | less) may wait on its reader for much longer.
	 */
	char *rows = NULL;
	size_t rows_len = 0;
	FILE *held = open_memstream(&rows, &rows_len);
	FILE *to = held ? held : stdout;
	/* getline: one JSON reply is a single line of any length. */
	const char *error = NULL;
	bool answered = false;

	while (in && getline(&line, &line_cap, in) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "row ", 4) || !strcmp(line, "row")) {
			fprintf(to, "%s\n", line[3] ? line + 4 : "");
		} else if (!strcmp(line, "done")) {
			status = 0;
			answered = true;
			break;
		} else if (!strncmp(line, "error ", 6)) {
			error = line + 6;
			answered = true;
			break;
		}
	}
	if (held) {
		fclose(held);
		fwrite(rows, 1, rows_len, stdout);
	}
	free(rows);
	fflush(stdout);
	if (error)
		fprintf(stderr, "lbctl: %s\n", error);
	else if (!answered)
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
			grammar_help(stdout);
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
		grammar_help(stdout);
		return 0;
	}
	if (!strcmp(argv[i], "completion")) {
		if (i + 2 != argc || strcmp(argv[i + 1], "bash")) {
			fprintf(stderr, "lbctl: completion writes a script for bash only: lbctl completion bash\n");
			return 2;
		}
		grammar_bash_completion(stdout);
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
