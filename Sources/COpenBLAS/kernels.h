#ifndef INSIGHT_SEMANTIC_KERNELS_H
#define INSIGHT_SEMANTIC_KERNELS_H
/* The kernels of the vector index: int8 dot products and sign-sketch distances. Swift code is compiled for
   baseline x86-64 (SSE2); these pick AVX2 or POPCNT at run time when the CPU has them (AVX2 halves the time of
   an int8 scan over a million vectors). */
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

/* The first pass of a search over a large index: one sign bit per dimension, compared by XOR and bit count. */
#if defined(__x86_64__)
__attribute__((target("popcnt")))
static inline void insight_hamming_popcnt(const uint64_t *query, const uint64_t *sketches, size_t words, size_t count,
                                          uint16_t *out, uint32_t *histogram) {
    if (words == 6) {  /* 384 dimensions */
        const uint64_t q0 = query[0], q1 = query[1], q2 = query[2], q3 = query[3], q4 = query[4], q5 = query[5];
        for (size_t r = 0; r < count; r++) {
            const uint64_t *s = sketches + r * 6;
            unsigned d = (unsigned)(__builtin_popcountll(q0 ^ s[0]) + __builtin_popcountll(q1 ^ s[1]) + __builtin_popcountll(q2 ^ s[2])
                                    + __builtin_popcountll(q3 ^ s[3]) + __builtin_popcountll(q4 ^ s[4]) + __builtin_popcountll(q5 ^ s[5]));
            out[r] = (uint16_t)d;
            histogram[d]++;
        }
        return;
    }
    for (size_t r = 0; r < count; r++) {
        const uint64_t *s = sketches + r * words;
        unsigned d = 0;
        for (size_t w = 0; w < words; w++) d += (unsigned)__builtin_popcountll(query[w] ^ s[w]);
        out[r] = (uint16_t)d;
        histogram[d]++;
    }
}
#endif

static inline void insight_hamming_portable(const uint64_t *query, const uint64_t *sketches, size_t words, size_t count,
                                            uint16_t *out, uint32_t *histogram) {
    for (size_t r = 0; r < count; r++) {
        const uint64_t *s = sketches + r * words;
        unsigned d = 0;
        for (size_t w = 0; w < words; w++) {
            uint64_t x = query[w] ^ s[w];
            x = x - ((x >> 1) & 0x5555555555555555ULL);
            x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
            x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
            d += (unsigned)((x * 0x0101010101010101ULL) >> 56);
        }
        out[r] = (uint16_t)d;
        histogram[d]++;
    }
}

/* out[r] = the number of bits where query and sketch r (words 64-bit words each) differ, for r < count;
   histogram[out[r]] is incremented for each (it needs words · 64 + 1 entries). */
static inline void insight_hamming(const uint64_t *query, const uint64_t *sketches, size_t words, size_t count,
                                   uint16_t *out, uint32_t *histogram) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("popcnt")) { insight_hamming_popcnt(query, sketches, words, count, out, histogram); return; }
#endif
    insight_hamming_portable(query, sketches, words, count, out, histogram);
}
#endif
