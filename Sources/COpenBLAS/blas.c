#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

enum { NOT_TRIED, LOADED, MISSING };
enum { CBLAS_ROW_MAJOR = 101 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int state = NOT_TRIED;                 /* under lock */
static int wanted_threads;                    /* under lock; 0: OpenBLAS's own default */
static set_threads_fn set_threads;           /* under lock */
static get_threads_fn get_threads;           /* under lock */
static char problem[512];                     /* written once, under lock, before state becomes MISSING */
static _Atomic(sgemm_fn) sgemm;               /* read without the lock on every product */
static atomic_int tried;

static void load_locked(void) {
    if (state != NOT_TRIED) return;
    /* Debian's libopenblas0 provides this name through alternatives (pthread, openmp or serial variant). */
    void *library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    sgemm_fn s = NULL;
    if (library == NULL) {
        snprintf(problem, sizeof problem, "%s", dlerror());
    } else {
        s = (sgemm_fn)dlsym(library, "cblas_sgemm");
        set_threads = (set_threads_fn)dlsym(library, "openblas_set_num_threads");
        get_threads = (get_threads_fn)dlsym(library, "openblas_get_num_threads");
        if (s == NULL || set_threads == NULL || get_threads == NULL) {
            snprintf(problem, sizeof problem, "libopenblas.so.0 has no cblas_sgemm or openblas_set_num_threads");
            s = NULL;
        }
    }
    if (s == NULL) {
        state = MISSING;
    } else {
        if (wanted_threads > 0) set_threads(wanted_threads);
        state = LOADED;
        atomic_store_explicit(&sgemm, s, memory_order_release);
    }
    atomic_store_explicit(&tried, 1, memory_order_release);
}

const char *insight_blas_load(void) {
    pthread_mutex_lock(&lock);
    load_locked();
    const char *result = state == LOADED ? NULL : problem;
    pthread_mutex_unlock(&lock);
    return result;
}

void insight_blas_set_threads(int count) {
    pthread_mutex_lock(&lock);
    wanted_threads = count;
    if (state == LOADED) set_threads(count);
    pthread_mutex_unlock(&lock);
}

int insight_blas_threads(void) {
    pthread_mutex_lock(&lock);
    load_locked();
    int count = state == LOADED ? get_threads() : 1;
    pthread_mutex_unlock(&lock);
    return count;
}

/* Used only where OpenBLAS cannot be loaded: the plain definition, row-major. */
void insight_sgemm_portable(InsightTranspose transA, InsightTranspose transB, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float sum = 0;
            for (int p = 0; p < k; p++) {
                float x = transA == InsightTrans ? a[p * lda + i] : a[i * lda + p];
                float y = transB == InsightTrans ? b[j * ldb + p] : b[p * ldb + j];
                sum += x * y;
            }
            float *out = &c[i * ldc + j];
            *out = beta == 0 ? alpha * sum : alpha * sum + beta * *out;
        }
    }
}

void insight_sgemm(InsightTranspose transA, InsightTranspose transB, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    sgemm_fn s = atomic_load_explicit(&sgemm, memory_order_acquire);
    if (s == NULL && !atomic_load_explicit(&tried, memory_order_acquire)) {
        insight_blas_load();
        s = atomic_load_explicit(&sgemm, memory_order_acquire);
    }
    if (s != NULL) {
        s(CBLAS_ROW_MAJOR, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
        insight_sgemm_portable(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
