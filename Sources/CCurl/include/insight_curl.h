#ifndef INSIGHT_CURL_H
#define INSIGHT_CURL_H
#include <curl/curl.h>

/*
 * libcurl is opened with dlopen on the first fetch, not linked: it and the TLS, LDAP and SSH libraries it brings cost
 * about 5 MiB of resident memory in a daemon that may never fetch a link. Constants and types come from the header;
 * every call goes through the functions below. Until insight_curl_load() has returned 0, none may be called.
 */

/* Opens libcurl and runs curl_global_init once per process; 0 on success, else -1 with the reason in
 * insight_curl_load_error(). Safe to call from any thread, any number of times. */
int insight_curl_load(void);
/* Why the last load failed (the dlopen or dlsym message), or an empty string. */
const char *insight_curl_load_error(void);

CURL *insight_curl_easy_init(void);
void insight_curl_easy_cleanup(CURL *h);
void insight_curl_easy_reset(CURL *h);
CURLcode insight_curl_easy_perform(CURL *h);
const char *insight_curl_easy_strerror(CURLcode code);
struct curl_slist *insight_curl_slist_append(struct curl_slist *list, const char *text);
void insight_curl_slist_free_all(struct curl_slist *list);

/* curl_easy_setopt and curl_easy_getinfo are variadic; Swift cannot call them directly. */
CURLcode insight_curl_setopt_long(CURL *h, CURLoption o, long v);
CURLcode insight_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v);
CURLcode insight_curl_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode insight_curl_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode insight_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
CURLcode insight_curl_setopt_write(CURL *h, CURLoption o, curl_write_callback v);
CURLcode insight_curl_setopt_xferinfo(CURL *h, curl_xferinfo_callback v);
CURLcode insight_curl_setopt_opensocket(CURL *h, curl_opensocket_callback v);
CURLcode insight_curl_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode insight_curl_getinfo_string(CURL *h, CURLINFO i, char **v);
#endif
