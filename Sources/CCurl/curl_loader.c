#include "insight_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* The libcurl functions insightd calls, resolved once by insight_curl_load(). */
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;
static char failure[512];

#define RESOLVE(field, name)                                                                  \
    do {                                                                                      \
        *(void **)(&api.field) = dlsym(library, name);                                        \
        if (!api.field) {                                                                     \
            snprintf(failure, sizeof failure, "libcurl has no %s: %s", name, dlerror());       \
            return;                                                                           \
        }                                                                                     \
    } while (0)

static void load_once(void) {
    /* The soname of Debian's libcurl4 packages (openssl, gnutls and nss flavours alike). */
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(failure, sizeof failure, "cannot open libcurl (install the libcurl4 package): %s", dlerror());
        return;
    }
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_reset, "curl_easy_reset");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    CURLcode code = api.global_init(CURL_GLOBAL_ALL);
    if (code != CURLE_OK) {
        snprintf(failure, sizeof failure, "curl_global_init failed: %s", api.easy_strerror(code));
        return;
    }
    loaded = 0;
}

int insight_curl_load(void) {
    pthread_once(&once, load_once);
    return loaded;
}

const char *insight_curl_load_error(void) { return failure; }

CURL *insight_curl_easy_init(void) { return api.easy_init(); }
void insight_curl_easy_cleanup(CURL *h) { api.easy_cleanup(h); }
void insight_curl_easy_reset(CURL *h) { api.easy_reset(h); }
CURLcode insight_curl_easy_perform(CURL *h) { return api.easy_perform(h); }
const char *insight_curl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }
struct curl_slist *insight_curl_slist_append(struct curl_slist *list, const char *text) { return api.slist_append(list, text); }
void insight_curl_slist_free_all(struct curl_slist *list) { api.slist_free_all(list); }

CURLcode insight_curl_setopt_long(CURL *h, CURLoption o, long v) { return api.easy_setopt(h, o, v); }
CURLcode insight_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return api.easy_setopt(h, o, v); }
CURLcode insight_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return api.easy_setopt(h, o, v); }
CURLcode insight_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return api.easy_setopt(h, o, v); }
CURLcode insight_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return api.easy_setopt(h, o, v); }
CURLcode insight_curl_setopt_write(CURL *h, CURLoption o, curl_write_callback v) { return api.easy_setopt(h, o, v); }
CURLcode insight_curl_setopt_xferinfo(CURL *h, curl_xferinfo_callback v) { return api.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v); }
CURLcode insight_curl_setopt_opensocket(CURL *h, curl_opensocket_callback v) { return api.easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, v); }
CURLcode insight_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return api.easy_getinfo(h, i, v); }
CURLcode insight_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return api.easy_getinfo(h, i, v); }
