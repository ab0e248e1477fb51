#!/usr/bin/env python3
"""Peer row for `insightbench neardup`: datasketch MinHashLSH on the same data.

MinHash with 128 permutations over character 5-grams, MinHashLSH(threshold=0.8). Reads the files that
insightbench writes (texts already normalized by the same normalizer, one per line) and prints one JSON object.

  indexed.txt   texts to index (key = line number)
  queries.tsv   expected_key<TAB>label<TAB>text   (expected_key -1 for new texts)
  pairs.tsv     label<TAB>a<TAB>b                 (labelled pair set)

A pair or query is "merged" when the LSH query returns the stored key: that is datasketch's whole verdict.
"""
import json
import resource
import sys
import time

from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
K = 5


def shingles(text):
    if len(text) <= K:
        return [text.encode("utf-8")] if text else []
    return list({text[i:i + K].encode("utf-8") for i in range(len(text) - K + 1)})


def minhash(text):
    m = MinHash(num_perm=NUM_PERM)
    sh = shingles(text)
    if sh:
        m.update_batch(sh)
    return m


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    directory = sys.argv[1]
    with open(directory + "/indexed.txt", encoding="utf-8") as f:
        indexed = f.read().split("\n")
    if indexed and indexed[-1] == "":
        indexed.pop()
    queries = []
    with open(directory + "/queries.tsv", encoding="utf-8") as f:
        for line in f:
            key, label, text = line.rstrip("\n").split("\t", 2)
            queries.append((int(key), label, text))
    pairs = []
    with open(directory + "/pairs.tsv", encoding="utf-8") as f:
        for line in f:
            label, a, b = line.rstrip("\n").split("\t", 2)
            pairs.append((label, a, b))

    rss_before = rss_mb()
    lsh = MinHashLSH(threshold=0.8, num_perm=NUM_PERM)
    start = time.process_time()
    with lsh.insertion_session() as session:
        for key, text in enumerate(indexed):
            session.insert(key, minhash(text))
    build_seconds = time.process_time() - start
    rss_after = rss_mb()

    latencies = []
    found = {"same": [0, 0], "changed": [0, 0], "new": [0, 0]}
    start = time.process_time()
    for key, label, text in queries:
        t0 = time.perf_counter()
        result = lsh.query(minhash(text))
        latencies.append(time.perf_counter() - t0)
        found[label][1] += 1
        if key >= 0 and key in result:
            found[label][0] += 1
        elif key < 0 and result:
            found[label][0] += 1
    query_seconds = time.process_time() - start
    latencies.sort()

    labelled = {"same": [0, 0], "changed": [0, 0], "unrelated": [0, 0]}
    for label, a, b in pairs:
        one = MinHashLSH(threshold=0.8, num_perm=NUM_PERM)
        one.insert("a", minhash(a))
        merged = "a" in one.query(minhash(b))
        labelled[label][1] += 1
        labelled[label][0] += 1 if merged else 0

    print(json.dumps({
        "indexed": len(indexed),
        "build_seconds": build_seconds,
        "queries": len(queries),
        "query_seconds": query_seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0,
        "rss_delta_mb": rss_after - rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "stream": found,
        "labelled": labelled,
    }))


if __name__ == "__main__":
    main()
