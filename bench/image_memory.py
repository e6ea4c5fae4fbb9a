"""Image memory: the peak memory of preparing six 10000x10000 PNGs (about 300 KB each) at once, as
six tasks of one /predict do in a worker's fan-out threads.

Usage: python bench/image_memory.py [--images 6] [--side 10000]
Prints the process's peak resident memory before and after (Linux: VmHWM, reset through
/proc/self/clear_refs) and writes bench/results/image_memory.json.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_results


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--side", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubsite.settings")
    django.setup()
    from inference.media import prepare_image
    from wow_ai_hub.media import MediaError

    picture = Image.new("RGB", (args.side, args.side), "white")
    ImageDraw.Draw(picture).rectangle((10, 10, 200, 200), fill="red")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    del picture
    content = buffer.getvalue()

    reset_peak()
    baseline = peak_rss_mb()

    def prepare(_: int) -> str:
        try:
            prepared = prepare_image(content)
        except MediaError as exc:
            return f"refused: {exc}"
        return f"{prepared.width}x{prepared.height}"

    with ThreadPoolExecutor(max_workers=args.images) as pool:
        outcomes = list(pool.map(prepare, range(args.images)))
    row = {
        "images": args.images,
        "file_kb": round(len(content) / 1024),
        "pixels_each": args.side * args.side,
        "baseline_mb": round(baseline),
        "peak_mb": round(peak_rss_mb()),
        "added_mb": round(peak_rss_mb() - baseline),
        "outcome": outcomes[0],
    }
    print_table([row], list(row))
    write_results("image_memory", row)


if __name__ == "__main__":
    main()
