#ifndef INSIGHT_COPENBLAS_BLAS_H
#define INSIGHT_COPENBLAS_BLAS_H
/* Single-precision matrix products through Debian's OpenBLAS, loaded with dlopen on first use rather than linked:
   loading it maps about 3 MiB and starts a thread, which a daemon that has nothing to embed never needs. */

/* CBLAS's values, so they pass straight through. */
typedef enum { InsightNoTrans = 111, InsightTrans = 112 } InsightTranspose;

/* C = alpha · op(A) · op(B) + beta · C, row-major, as cblas_sgemm(CblasRowMajor, …). Loads OpenBLAS on the first
   call; without it, a portable loop computes the same product, slowly (insight_blas_load says why). */
void insight_sgemm(InsightTranspose transA, InsightTranspose transB, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The portable loop insight_sgemm falls back on, for tests to compare with OpenBLAS. */
void insight_sgemm_portable(InsightTranspose transA, InsightTranspose transB, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Loads OpenBLAS now if it is not loaded yet. Returns NULL once it is loaded, else why it could not be. */
const char *insight_blas_load(void);

/* How many threads OpenBLAS may use in each product: kept and applied when it loads, at once if it has. */
void insight_blas_set_threads(int count);

/* The threads OpenBLAS uses in each product (loads it; 1 without it). */
int insight_blas_threads(void);

#endif
