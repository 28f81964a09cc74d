// SPDX-License-Identifier: GPL-2.0
/*
 * etcd's v3 JSON gateway: POST /v3/kv/range, /v3/kv/txn and the streaming
 * /v3/watch, keys and values in base64, 64-bit numbers as strings. The
 * thread below owns every curl handle; the loop's side only takes the lock
 * to hand over a write or to take what arrived, never for a network wait.
 */
#define _GNU_SOURCE
#include "etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

enum req_kind { REQ_RANGE, REQ_WATCH, REQ_PUT };

struct req {
	enum req_kind kind;
	CURL *h;
	struct curl_slist *headers;
	char *body;
	char *resp;		/* range and txn: the whole answer */
	size_t resp_len;
	bool too_long;
	json_tokener *tok;	/* watch: the stream, an object at a time */
	uint64_t ticket;
	char *value64;		/* put: the value, encoded, until the request is made */
	int64_t expect;		/* put: the mod_revision it compares */
	struct etcd *owner;
	bool restart;		/* watch: over for a reason of etcd's own, not the network's */
	struct req *next;
};

struct etcd {
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	CURLM *multi;
	int event_fd;
	char *urls[ETCD_MAX_URLS];
	size_t n_urls;
	char *key64;

	/* Shared with the loop, under lock. */
	bool stopping;
	struct req *queued, **queued_tail;	/* writes not started yet */
	size_t url_now;
	struct etcd_value value;
	bool value_new;
	struct etcd_put_done *done;
	size_t n_done, cap_done;
	enum etcd_state state;
	uint64_t state_since;
	char why[320];
	uint64_t tickets;

	/* The thread's own. */
	struct req *range, *watch, *puts;
	uint64_t retry_at;
	int64_t last_published;		/* mod_revision of the newest value handed over; -1: none yet */
	bool last_absent;
};

static uint64_t now_ms(void)
{
	return lbd_mono_ms();
}

static char *b64_encode(const char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	return out;
}

/* NULL for text that is not base64. */
static char *b64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text);
	char *out;
	int got;

	if (n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	got = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)text, (int)n);
	if (got < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as bytes: at most two of them. */
	for (size_t i = n; i > 0 && n - i < 2 && text[i - 1] == '='; i--)
		got--;
	if (got < 0) {
		free(out);
		return NULL;
	}
	out[got] = 0;
	*len = (size_t)got;
	return out;
}

static void wake_loop(struct etcd *e)
{
	uint64_t one = 1;

	if (write(e->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		lbd_warn("etcd: cannot wake the loop: %s", strerror(errno));
}

/* Called with the lock held. */
static void set_state(struct etcd *e, enum etcd_state state, const char *why)
{
	if (state != e->state) {
		e->state = state;
		e->state_since = now_ms();
	}
	if (why)
		snprintf(e->why, sizeof(e->why), "%s", why);
}

/*
 * Hands the key's value over, unless it is the one handed over last;
 * connected: a read's answer, which says etcd answers in the same breath
 * (the loop never sees one without the other).
 */
static void publish_value(struct etcd *e, char *text, size_t len, int64_t mod_revision, bool deleted,
			  bool connected)
{
	bool absent = !text, same = mod_revision == e->last_published && absent == e->last_absent;

	e->last_published = mod_revision;
	e->last_absent = absent;
	pthread_mutex_lock(&e->lock);
	if (same) {
		free(text);
	} else {
		free(e->value.text);
		e->value = (struct etcd_value){ .text = text, .len = len, .mod_revision = mod_revision,
						.deleted = deleted };
		e->value_new = true;
	}
	if (connected)
		set_state(e, ETCD_CONNECTED, "");
	pthread_mutex_unlock(&e->lock);
	wake_loop(e);
}

static void publish_put(struct etcd *e, const struct req *r, enum etcd_put_status status, int64_t revision,
			const char *why)
{
	pthread_mutex_lock(&e->lock);
	if (e->n_done == e->cap_done) {
		size_t cap = e->cap_done ? 2 * e->cap_done : 8;
		struct etcd_put_done *p = realloc(e->done, cap * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&e->lock);
			lbd_err("etcd: out of memory for the outcome of a write: its client will time out");
			return;
		}
		e->done = p;
		e->cap_done = cap;
	}
	struct etcd_put_done *d = &e->done[e->n_done++];

	*d = (struct etcd_put_done){ .ticket = r->ticket, .status = status, .expected = r->expect,
				     .revision = revision };
	snprintf(d->why, sizeof(d->why), "%s", why ? why : "");
	pthread_mutex_unlock(&e->lock);
	wake_loop(e);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct req *r = ctx;
	size_t len = size * n;

	if (r->resp_len + len > ETCD_MAX_VALUE * 2) {
		r->too_long = true;
		return 0;	/* curl ends the transfer with an error */
	}
	char *p = realloc(r->resp, r->resp_len + len + 1);

	if (!p)
		return 0;
	r->resp = p;
	memcpy(r->resp + r->resp_len, data, len);
	r->resp_len += len;
	r->resp[r->resp_len] = 0;
	return len;
}

static void req_free(struct etcd *e, struct req *r)
{
	if (!r)
		return;
	if (r->h) {
		curl_multi_remove_handle(e->multi, r->h);
		curl_easy_cleanup(r->h);
	}
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r->value64);
	free(r->resp);
	if (r->tok)
		json_tokener_free(r->tok);
	free(r);
}

static size_t on_watch_body(char *data, size_t size, size_t n, void *ctx);

/*
 * A watch's connection cut without a reset (a partition) would look calm
 * for the kernel's 9 keepalive probes: 3 unanswered, and it is dead.
 */
static int keepalive_sockopt(void *ctx, curl_socket_t fd, curlsocktype purpose)
{
	int probes = 3;

	(void)ctx;
	if (purpose == CURLSOCKTYPE_IPCXN)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
	return CURL_SOCKOPT_OK;
}

static int req_start(struct etcd *e, struct req *r, const char *path, char *body)
{
	char url[512];
	size_t at;

	pthread_mutex_lock(&e->lock);
	at = e->url_now;
	pthread_mutex_unlock(&e->lock);
	snprintf(url, sizeof(url), "%s%s", e->urls[at], path);
	r->body = body;
	r->h = curl_easy_init();
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/*
	 * A member cut off from its cluster's leader would keep a watch open
	 * and quiet: etcd ends it instead, and the node says it is stale.
	 */
	if (r->headers && r->kind == REQ_WATCH)
		r->headers = curl_slist_append(r->headers, "Grpc-Metadata-hasleader: true");
	if (!r->h || !r->headers)
		return -ENOMEM;
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	/* An http_proxy meant for the operator's shell must not sit between a node and its store. */
	curl_easy_setopt(r->h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_REQUEST_MS);
	curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
	/*
	 * A watch is quiet while nothing changes: only the keepalives tell a
	 * dead etcd from a calm one. On every request, as the watch may get
	 * the connection the read before it opened.
	 */
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_setopt(r->h, CURLOPT_SOCKOPTFUNCTION, keepalive_sockopt);
	if (r->kind == REQ_WATCH) {
		curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_watch_body);
		r->tok = json_tokener_new();
		if (!r->tok)
			return -ENOMEM;
	} else {
		curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, (long)ETCD_REQUEST_MS);
		curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
	}
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	if (curl_multi_add_handle(e->multi, r->h) != CURLM_OK)
		return -ENOMEM;
	return 0;
}

static struct req *req_new(struct etcd *e, enum req_kind kind)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r) {
		r->kind = kind;
		r->owner = e;
	}
	return r;
}

static int start_range(struct etcd *e)
{
	char *body = NULL;

	e->range = req_new(e, REQ_RANGE);
	if (!e->range || asprintf(&body, "{\"key\":\"%s\"}", e->key64) < 0)
		return -ENOMEM;
	return req_start(e, e->range, "/v3/kv/range", body);
}

static int start_watch(struct etcd *e, int64_t from)
{
	char *body = NULL;

	e->watch = req_new(e, REQ_WATCH);
	if (!e->watch || asprintf(&body, "{\"create_request\":{\"key\":\"%s\",\"start_revision\":\"%lld\"}}",
				  e->key64, (long long)from) < 0)
		return -ENOMEM;
	return req_start(e, e->watch, "/v3/watch", body);
}

static int start_put(struct etcd *e, struct req *r, const char *value64, int64_t expect)
{
	char *body = NULL;

	/* mod_revision 0 compares equal only while the key does not exist. */
	if (asprintf(&body,
		     "{\"compare\":[{\"key\":\"%s\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"%lld\"}],"
		     "\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}]}",
		     e->key64, (long long)expect, e->key64, value64) < 0)
		return -ENOMEM;
	return req_start(e, r, "/v3/kv/txn", body);
}

static int64_t json_i64(json_object *o, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) ? json_object_get_int64(v) : 0;
}

static json_object *json_get(json_object *o, const char *name)
{
	json_object *v;

	return o && json_object_object_get_ex(o, name, &v) ? v : NULL;
}

/* A kv of etcd's: its value decoded into *text (NULL and -EINVAL when it is not base64). */
static int kv_value(json_object *kv, char **text, size_t *len)
{
	json_object *v = json_get(kv, "value");

	*text = NULL;
	*len = 0;
	if (!v) {
		/* The gateway leaves an empty value out. */
		*text = strdup("");
		return *text ? 0 : -ENOMEM;
	}
	*text = b64_decode(json_object_get_string(v), len);
	return *text ? 0 : -EINVAL;
}

static void fail_connection(struct etcd *e, const char *why)
{
	req_free(e, e->range);
	req_free(e, e->watch);
	e->range = e->watch = NULL;
	e->retry_at = now_ms() + ETCD_RETRY_MS;
	char at[256];

	pthread_mutex_lock(&e->lock);
	snprintf(at, sizeof(at), "%s: %s", e->urls[e->url_now], why);
	if (e->state != ETCD_UNREACHABLE)
		lbd_warn("etcd %s", at);
	/* The next attempt goes to the next URL: one of several dead is passed over. */
	e->url_now = (e->url_now + 1) % e->n_urls;
	set_state(e, ETCD_UNREACHABLE, at);
	pthread_mutex_unlock(&e->lock);
	wake_loop(e);
}

/* An answer's "error": the gateway's message, or the HTTP status. */
static void answer_error(struct req *r, long http, char *why, size_t len)
{
	json_object *o = r->resp ? json_tokener_parse(r->resp) : NULL;
	json_object *m = json_get(o, "message") ?: json_get(o, "error");

	if (m)
		snprintf(why, len, "HTTP %ld: %s", http, json_object_get_string(m));
	else
		snprintf(why, len, "HTTP %ld", http);
	json_object_put(o);
}

static void range_done(struct etcd *e, CURLcode res, long http)
{
	char why[160];
	json_object *o = NULL, *kvs;
	char *text = NULL;
	size_t len = 0;
	int64_t rev, mod = 0;

	if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", e->range->too_long ? "the key's value is larger than lbd reads (2 MiB)"
			 : curl_easy_strerror(res));
		goto fail;
	}
	if (http != 200) {
		answer_error(e->range, http, why, sizeof(why));
		goto fail;
	}
	o = json_tokener_parse(e->range->resp ? e->range->resp : "");
	if (!o || !json_get(o, "header")) {
		snprintf(why, sizeof(why), "the answer to a read is not etcd's JSON");
		goto fail;
	}
	rev = json_i64(json_get(o, "header"), "revision");
	kvs = json_get(o, "kvs");
	if (kvs && !json_object_is_type(kvs, json_type_array)) {
		snprintf(why, sizeof(why), "the answer to a read is not etcd's JSON");
		goto fail;
	}
	if (kvs && json_object_array_length(kvs) > 0) {
		json_object *kv = json_object_array_get_idx(kvs, 0);

		mod = json_i64(kv, "mod_revision");
		if (kv_value(kv, &text, &len)) {
			snprintf(why, sizeof(why), "the key's value is not base64");
			goto fail;
		}
	}
	json_object_put(o);
	req_free(e, e->range);
	e->range = NULL;
	publish_value(e, text, len, mod, false, true);
	if (start_watch(e, rev + 1))
		fail_connection(e, "out of memory for the watch");
	return;
fail:
	json_object_put(o);
	fail_connection(e, why);
}

/* One message of the watch stream. False: the watch is over (the caller reads again). */
static bool watch_message(struct etcd *e, json_object *msg)
{
	json_object *res = json_get(msg, "result"), *events;

	if (!res) {
		lbd_warn("etcd: the watch ended: %s", json_object_to_json_string(msg));
		return false;
	}
	/* Compacted past where it began, or cancelled: read the key afresh and watch from there. */
	if (json_object_get_boolean(json_get(res, "canceled")) || json_i64(res, "compact_revision"))
		return false;
	events = json_get(res, "events");
	if (events && !json_object_is_type(events, json_type_array))
		return false;
	for (size_t i = 0; events && i < json_object_array_length(events); i++) {
		json_object *ev = json_object_array_get_idx(events, i), *kv = json_get(ev, "kv");
		json_object *type = json_get(ev, "type");
		int64_t mod = json_i64(kv, "mod_revision");
		char *text = NULL;
		size_t len = 0;

		if (type && !strcmp(json_object_get_string(type), "DELETE")) {
			publish_value(e, NULL, 0, mod, true, false);
			continue;
		}
		if (kv_value(kv, &text, &len)) {
			lbd_warn("etcd: revision %lld of the key is not base64: skipped", (long long)mod);
			continue;
		}
		publish_value(e, text, len, mod, false, false);
	}
	return true;
}

static size_t on_watch_body(char *data, size_t size, size_t n, void *ctx)
{
	struct req *r = ctx;
	size_t len = size * n, at = 0;

	/* One message of the stream is one revision's value: no larger than a read may be. */
	r->resp_len += len;
	if (r->resp_len > ETCD_MAX_VALUE * 2) {
		lbd_warn("etcd: a watch message is larger than lbd reads (2 MiB): reading the key again");
		r->restart = true;
		return 0;
	}
	while (at < len) {
		json_object *msg = json_tokener_parse_ex(r->tok, data + at, (int)(len - at));
		enum json_tokener_error jerr = json_tokener_get_error(r->tok);
		size_t used = json_tokener_get_parse_end(r->tok);
		bool go_on;

		if (jerr == json_tokener_continue)
			return len;
		if (jerr != json_tokener_success) {
			lbd_warn("etcd: the watch stream is not JSON: %s", json_tokener_error_desc(jerr));
			r->restart = true;
			return 0;
		}
		at += used ? used : len - at;
		json_tokener_reset(r->tok);
		r->resp_len = len - at;
		go_on = watch_message(r->owner, msg);
		json_object_put(msg);
		if (!go_on) {
			r->restart = true;
			return 0;	/* curl ends the transfer; the thread reads the key again */
		}
		/* The gateway ends each message with a newline: not the start of the next. */
		while (at < len && (data[at] == '\n' || data[at] == '\r' || data[at] == ' '))
			at++;
	}
	return len;
}

static void put_done(struct etcd *e, struct req *r, CURLcode res, long http)
{
	char why[160] = "";
	json_object *o = NULL;

	if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
		publish_put(e, r, ETCD_PUT_FAILED, 0, why);
		return;
	}
	if (http != 200) {
		answer_error(r, http, why, sizeof(why));
		publish_put(e, r, ETCD_PUT_FAILED, 0, why);
		return;
	}
	o = json_tokener_parse(r->resp ? r->resp : "");
	if (!o || !json_get(o, "header")) {
		publish_put(e, r, ETCD_PUT_FAILED, 0, "the answer to the write is not etcd's JSON");
	} else if (json_object_get_boolean(json_get(o, "succeeded"))) {
		publish_put(e, r, ETCD_PUT_OK, json_i64(json_get(o, "header"), "revision"), NULL);
	} else {
		publish_put(e, r, ETCD_PUT_CONFLICT, json_i64(json_get(o, "header"), "revision"), NULL);
	}
	json_object_put(o);
}

static void transfer_done(struct etcd *e, CURLMsg *m)
{
	struct req *r = NULL;
	long http = 0;

	curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
	curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &http);
	switch (r->kind) {
	case REQ_RANGE:
		range_done(e, m->data.result, http);
		break;
	case REQ_WATCH:
		if (r->restart) {
			req_free(e, e->watch);
			e->watch = NULL;
			if (start_range(e))
				fail_connection(e, "out of memory for a read");
		} else if (http && http != 200) {
			char why[160];

			answer_error(r, http, why, sizeof(why));
			fail_connection(e, why);
		} else {
			fail_connection(e, m->data.result == CURLE_OK ? "etcd ended the watch"
					: curl_easy_strerror(m->data.result));
		}
		break;
	case REQ_PUT:
		put_done(e, r, m->data.result, http);
		for (struct req **p = &e->puts; *p; p = &(*p)->next)
			if (*p == r) {
				*p = r->next;
				break;
			}
		req_free(e, r);
		break;
	}
}

static void start_queued_puts(struct etcd *e)
{
	struct req *list;

	pthread_mutex_lock(&e->lock);
	list = e->queued;
	e->queued = NULL;
	e->queued_tail = &e->queued;
	pthread_mutex_unlock(&e->lock);
	while (list) {
		struct req *r = list;

		list = r->next;
		int ret = start_put(e, r, r->value64, r->expect);

		free(r->value64);
		r->value64 = NULL;
		if (ret) {
			publish_put(e, r, ETCD_PUT_FAILED, 0, "out of memory");
			req_free(e, r);
		} else {
			r->next = e->puts;
			e->puts = r;
		}
	}
}

static void *etcd_thread(void *arg)
{
	struct etcd *e = arg;

	for (;;) {
		int running, left, wait_ms = 1000;
		CURLMsg *m;
		uint64_t now;

		pthread_mutex_lock(&e->lock);
		bool stopping = e->stopping;

		pthread_mutex_unlock(&e->lock);
		if (stopping)
			break;
		now = now_ms();
		if (!e->range && !e->watch) {
			if (now >= e->retry_at) {
				if (start_range(e))
					fail_connection(e, "out of memory for a read");
			} else {
				wait_ms = (int)(e->retry_at - now);
			}
		}
		start_queued_puts(e);
		curl_multi_perform(e->multi, &running);
		while ((m = curl_multi_info_read(e->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				transfer_done(e, m);
		curl_multi_poll(e->multi, NULL, 0, wait_ms, NULL);
	}
	return NULL;
}

static int parse_urls(struct etcd *e, const char *urls, char *err, size_t len)
{
	char *copy = strdup(urls), *save = NULL;

	if (!copy)
		return snprintf(err, len, "out of memory"), -ENOMEM;
	for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		size_t l = strlen(u);

		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
			snprintf(err, len, "etcd URL '%s' is not http://HOST:PORT or https://HOST:PORT", u);
			free(copy);
			return -EINVAL;
		}
		if (e->n_urls == ETCD_MAX_URLS) {
			snprintf(err, len, "more than %d etcd URLs", ETCD_MAX_URLS);
			free(copy);
			return -EINVAL;
		}
		while (l && u[l - 1] == '/')
			u[--l] = 0;
		e->urls[e->n_urls++] = strdup(u);
	}
	free(copy);
	if (!e->n_urls)
		return snprintf(err, len, "no etcd URL"), -EINVAL;
	return 0;
}

struct etcd *etcd_start(const char *urls, const char *key, char *err, size_t len)
{
	static bool curl_ready;
	struct etcd *e = calloc(1, sizeof(*e));

	if (!e)
		return snprintf(err, len, "out of memory"), NULL;
	e->event_fd = -1;
	e->queued_tail = &e->queued;
	e->last_published = -1;
	pthread_mutex_init(&e->lock, NULL);
	if (parse_urls(e, urls, err, len))
		goto fail;
	/* Not thread-safe, and wanted once: before any thread of ours runs. */
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, len, "libcurl does not start");
		goto fail;
	}
	curl_ready = true;
	e->key64 = b64_encode(key, strlen(key));
	e->multi = curl_multi_init();
	e->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!e->key64 || !e->multi || e->event_fd < 0) {
		snprintf(err, len, "cannot set up the etcd client: %s", strerror(errno ?: ENOMEM));
		goto fail;
	}
	e->state_since = now_ms();
	if (pthread_create(&e->thread, NULL, etcd_thread, e)) {
		snprintf(err, len, "cannot start the etcd thread");
		goto fail;
	}
	e->thread_started = true;
	return e;
fail:
	etcd_stop(e);
	return NULL;
}

void etcd_stop(struct etcd *e)
{
	if (!e)
		return;
	if (e->thread_started) {
		pthread_mutex_lock(&e->lock);
		e->stopping = true;
		pthread_mutex_unlock(&e->lock);
		curl_multi_wakeup(e->multi);
		pthread_join(e->thread, NULL);
	}
	req_free(e, e->range);
	req_free(e, e->watch);
	while (e->puts) {
		struct req *r = e->puts;

		e->puts = r->next;
		req_free(e, r);
	}
	while (e->queued) {
		struct req *r = e->queued;

		e->queued = r->next;
		req_free(e, r);
	}
	if (e->multi)
		curl_multi_cleanup(e->multi);
	if (e->event_fd >= 0)
		close(e->event_fd);
	for (size_t i = 0; i < e->n_urls; i++)
		free(e->urls[i]);
	free(e->key64);
	free(e->value.text);
	free(e->done);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int etcd_event_fd(const struct etcd *e)
{
	return e->event_fd;
}

void etcd_drain_event(struct etcd *e)
{
	uint64_t n;

	while (read(e->event_fd, &n, sizeof(n)) == sizeof(n))
		;
}

bool etcd_take_value(struct etcd *e, struct etcd_value *v)
{
	bool got;

	pthread_mutex_lock(&e->lock);
	got = e->value_new;
	if (got) {
		*v = e->value;
		e->value = (struct etcd_value){ 0 };
		e->value_new = false;
	}
	pthread_mutex_unlock(&e->lock);
	return got;
}

bool etcd_take_put(struct etcd *e, struct etcd_put_done *done)
{
	bool got;

	pthread_mutex_lock(&e->lock);
	got = e->n_done > 0;
	if (got) {
		*done = e->done[0];
		memmove(e->done, e->done + 1, --e->n_done * sizeof(*e->done));
	}
	pthread_mutex_unlock(&e->lock);
	return got;
}

enum etcd_state etcd_state(struct etcd *e, uint64_t *since_ms, char *why, size_t len)
{
	enum etcd_state s;

	pthread_mutex_lock(&e->lock);
	s = e->state;
	if (since_ms)
		*since_ms = e->state_since;
	if (why)
		snprintf(why, len, "%s", e->why);
	pthread_mutex_unlock(&e->lock);
	return s;
}

void etcd_url(struct etcd *e, char *buf, size_t len)
{
	pthread_mutex_lock(&e->lock);
	snprintf(buf, len, "%s", e->urls[e->url_now]);
	pthread_mutex_unlock(&e->lock);
}

uint64_t etcd_put(struct etcd *e, const char *value, size_t len, int64_t expect)
{
	struct req *r = req_new(e, REQ_PUT);
	uint64_t ticket;

	pthread_mutex_lock(&e->lock);
	ticket = ++e->tickets;
	pthread_mutex_unlock(&e->lock);
	if (!r || !(r->value64 = b64_encode(value, len))) {
		struct req gone = { .ticket = ticket, .expect = expect };

		free(r);
		publish_put(e, &gone, ETCD_PUT_FAILED, 0, "out of memory");
		return ticket;
	}
	r->ticket = ticket;
	r->expect = expect;
	pthread_mutex_lock(&e->lock);
	*e->queued_tail = r;
	e->queued_tail = &r->next;
	pthread_mutex_unlock(&e->lock);
	curl_multi_wakeup(e->multi);
	return ticket;
}
