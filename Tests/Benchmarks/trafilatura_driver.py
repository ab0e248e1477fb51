#!/usr/bin/env python3
"""Run trafilatura over a folder of pages, timed the same way insightbench times InsightExtract.

Usage: trafilatura_driver.py PAGES_DIR OUT_DIR [--limit N] [--include-comments]

Every PAGES_DIR/<id>.html is read into memory first; then each page's bytes are handed to
trafilatura.extract one at a time on this thread, and only that call is timed. The text is
written to OUT_DIR/<id>.txt. The last line printed is JSON:
{"pages": N, "ms_per_page": wall-clock X, "cpu_ms_per_page": thread CPU time Y, "version": V}.
"""
import json
import os
import sys
import time


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    include_comments = "--include-comments" in sys.argv
    limit = None
    if "--limit" in sys.argv:
        limit = int(sys.argv[sys.argv.index("--limit") + 1])
        args = [a for a in args if a != str(limit)]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    pages_dir, out_dir = args
    import trafilatura

    names = sorted(n for n in os.listdir(pages_dir) if n.endswith(".html"))
    if limit is not None:
        names = names[:limit]
    pages = []
    for name in names:
        with open(os.path.join(pages_dir, name), "rb") as f:
            pages.append((name[: -len(".html")], f.read()))
    os.makedirs(out_dir, exist_ok=True)
    # One untimed warm-up call so imports and lazy initialisation are not charged to the first page.
    if pages:
        trafilatura.extract(pages[0][1], include_comments=include_comments)
    total = 0.0
    cpu = 0.0
    for page_id, data in pages:
        cpu_start = time.thread_time()
        start = time.perf_counter()
        text = trafilatura.extract(data, include_comments=include_comments)
        total += time.perf_counter() - start
        cpu += time.thread_time() - cpu_start
        with open(os.path.join(out_dir, page_id + ".txt"), "w", encoding="utf-8") as f:
            f.write(text or "")
    ms = (total * 1000.0 / len(pages)) if pages else 0.0
    cpu_ms = (cpu * 1000.0 / len(pages)) if pages else 0.0
    print(json.dumps({"pages": len(pages), "ms_per_page": ms, "cpu_ms_per_page": cpu_ms,
                      "version": trafilatura.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
