#ifndef INSIGHT_SEMANTIC_KERNELS_H
#define INSIGHT_SEMANTIC_KERNELS_H
/* The kernels of the vector index: int8 dot products, sign-sketch distances and the unpacking of stored
   magnitudes. Swift code is compiled for baseline x86-64 (SSE2); these pick AVX2 or POPCNT at run time when the
   CPU has them (AVX2 halves the time of an int8 scan over a million vectors). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

/* The packed rows of the vector index. An int8 value in -127…127 is its sign and a 7-bit magnitude; the sign is
   already in the row's sketch (bit i set: value i is positive; clear: negative or zero), so a row keeps only the
   magnitudes, value i at bits 7i…7i+6 of the row read as one little-endian bit string: eight values in seven
   bytes, (7 · dims + 7) / 8 bytes a row (336 for 384 dimensions). */

/* Seven bytes (56 bits, little-endian) to eight bytes, each holding one 7-bit field in its low bits. */
static inline uint64_t insight_spread7(uint64_t x) {
    x = (x & 0x000000000FFFFFFFULL) | ((x & 0x00FFFFFFF0000000ULL) << 4);
    x = (x & 0x00003FFF00003FFFULL) | ((x & 0x0FFFC0000FFFC000ULL) << 2);
    x = (x & 0x007F007F007F007FULL) | ((x & 0x3F803F803F803F80ULL) << 1);
    return x;
}

/* Values from `from` (a multiple of 8) to dims of one row, eight at a time, then one at a time. */
static inline void insight_unpack_row_tail(const uint8_t *packed, const uint64_t *sketch, size_t dims, size_t from, int8_t *out) {
    const size_t rowBytes = (7 * dims + 7) / 8;
    size_t i = from;
    for (; i + 8 <= dims; i += 8) {
        const uint8_t *p = packed + i / 8 * 7;
        uint64_t x = 0;
        for (int b = 0; b < 7; b++) x |= (uint64_t)p[b] << (8 * b);
        const uint64_t m = insight_spread7(x);
        const unsigned bits = (unsigned)(sketch[i >> 6] >> (i & 63)) & 0xFF;
        for (int j = 0; j < 8; j++) {
            const int8_t v = (int8_t)((m >> (8 * j)) & 0x7F);
            out[i + j] = (bits >> j) & 1 ? v : (int8_t)-v;
        }
    }
    for (; i < dims; i++) {
        const size_t bit = 7 * i, byte = bit / 8;
        unsigned x = packed[byte];
        if (byte + 1 < rowBytes) x |= (unsigned)packed[byte + 1] << 8;
        const int8_t v = (int8_t)((x >> (bit % 8)) & 0x7F);
        out[i] = (sketch[i >> 6] >> (i & 63)) & 1 ? v : (int8_t)-v;
    }
}

static inline void insight_unpack_i8_portable(const uint8_t *packed, const uint64_t *sketches, size_t dims, size_t count, int8_t *out) {
    const size_t rowBytes = (7 * dims + 7) / 8, words = (dims + 63) / 64;
    for (size_t r = 0; r < count; r++) insight_unpack_row_tail(packed + r * rowBytes, sketches + r * words, dims, 0, out + r * dims);
}

#if defined(__x86_64__)
/* 32 values a step: the four 7-byte groups of 28 bytes are moved into the four 64-bit lanes, spread as in
   insight_spread7, and the 32 sketch bits turned into byte masks that negate where the bit is clear. */
__attribute__((target("avx2")))
static inline void insight_unpack_i8_avx2(const uint8_t *packed, const uint64_t *sketches, size_t dims, size_t count, int8_t *out) {
    const size_t rowBytes = (7 * dims + 7) / 8, words = (dims + 63) / 64;
    const __m256i lanes = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, -1, 7, 8, 9, 10, 11, 12, 13, -1,
                                           0, 1, 2, 3, 4, 5, 6, -1, 7, 8, 9, 10, 11, 12, 13, -1);
    const __m256i signBytes = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                               2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bitOfByte = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i zero = _mm256_setzero_si256();
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = packed + r * rowBytes;
        const uint64_t *sketch = sketches + r * words;
        int8_t *o = out + r * dims;
        /* The second 16-byte load of a step reads 2 bytes past its 28: past the end of the last row given, they
           are read from a copy instead. */
        const size_t readable = (count - r) * rowBytes;
        size_t i = 0;
        for (; i + 32 <= dims; i += 32) {
            const size_t offset = i / 8 * 7;
            __m128i lo, hi;
            if (offset + 30 <= readable) {
                lo = _mm_loadu_si128((const __m128i *)(row + offset));
                hi = _mm_loadu_si128((const __m128i *)(row + offset + 14));
            } else {
                uint8_t copy[32] = {0};
                memcpy(copy, row + offset, 28);
                lo = _mm_loadu_si128((const __m128i *)copy);
                hi = _mm_loadu_si128((const __m128i *)(copy + 14));
            }
            __m256i x = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), lanes);
            x = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi64x(0x000000000FFFFFFFLL)),
                                _mm256_slli_epi64(_mm256_and_si256(x, _mm256_set1_epi64x(0x00FFFFFFF0000000LL)), 4));
            x = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi64x(0x00003FFF00003FFFLL)),
                                _mm256_slli_epi64(_mm256_and_si256(x, _mm256_set1_epi64x(0x0FFFC0000FFFC000LL)), 2));
            x = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi64x(0x007F007F007F007FLL)),
                                _mm256_slli_epi64(_mm256_and_si256(x, _mm256_set1_epi64x(0x3F803F803F803F80LL)), 1));
            const uint32_t bits = (uint32_t)(sketch[i >> 6] >> (i & 63));
            const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), signBytes);
            const __m256i negative = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bitOfByte), zero);
            x = _mm256_sub_epi8(_mm256_xor_si256(x, negative), negative);
            _mm256_storeu_si256((__m256i *)(o + i), x);
        }
        insight_unpack_row_tail(row, sketch, dims, i, o);
    }
}
#endif

/* 1 when insight_unpack_i8 and insight_dot_i8 take their AVX2 paths on this CPU. */
static inline int insight_has_avx2(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* out[r · dims + i] = value i of packed row r ((7 · dims + 7) / 8 bytes each), negated unless bit i of sketch
   row r ((dims + 63) / 64 words each) is set, for r < count. Reads only the count rows given. */
static inline void insight_unpack_i8(const uint8_t *packed, const uint64_t *sketches, size_t dims, size_t count, int8_t *out) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) { insight_unpack_i8_avx2(packed, sketches, dims, count, out); return; }
#endif
    insight_unpack_i8_portable(packed, sketches, dims, count, out);
}
#endif
