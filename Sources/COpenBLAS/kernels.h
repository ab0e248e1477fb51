#ifndef INSIGHT_SEMANTIC_KERNELS_H
#define INSIGHT_SEMANTIC_KERNELS_H
/* The int8 dot products of the vector index. Swift code is compiled for baseline x86-64 (SSE2); these pick
   AVX2 at run time when the CPU has it, which halves the time of a scan over a million vectors. */
#include <stddef.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2")))
static inline void insight_dot_i8_avx2(const int16_t *query, const int8_t *rows, size_t dims, size_t count, int32_t *out) {
    for (size_t r = 0; r < count; r++) {
        const int8_t *v = rows + r * dims;
        __m256i acc = _mm256_setzero_si256();
        size_t i = 0;
        for (; i + 16 <= dims; i += 16) {
            __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(v + i)));
            __m256i a = _mm256_loadu_si256((const __m256i *)(query + i));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        int32_t sum = _mm_cvtsi128_si32(s);
        for (; i < dims; i++) sum += (int32_t)query[i] * (int32_t)v[i];
        out[r] = sum;
    }
}
#endif

static inline void insight_dot_i8_portable(const int16_t *query, const int8_t *rows, size_t dims, size_t count, int32_t *out) {
    for (size_t r = 0; r < count; r++) {
        const int8_t *v = rows + r * dims;
        int32_t sum = 0;
        for (size_t i = 0; i < dims; i++) sum += (int32_t)query[i] * (int32_t)v[i];
        out[r] = sum;
    }
}

/* out[r] = Σ query[i] · rows[r · dims + i] for r < count; query holds int8 values widened to int16. */
static inline void insight_dot_i8(const int16_t *query, const int8_t *rows, size_t dims, size_t count, int32_t *out) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) { insight_dot_i8_avx2(query, rows, dims, count, out); return; }
#endif
    insight_dot_i8_portable(query, rows, dims, count, out);
}
#endif
