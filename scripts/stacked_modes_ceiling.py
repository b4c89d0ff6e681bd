"""The real-data ceiling of `modes_stacked`: the mode counts of n real Stacked Fashion-MNIST images, and how often
the Fashion-MNIST classifier names their channels right (docs/metrics.md, "Mode counts on Stacked Fashion-MNIST").

    wganlab datasets get stacked-fashion-mnist --out stacked
    OMP_NUM_THREADS=1 python scripts/stacked_modes_ceiling.py stacked/stacked.npz --n 26000
    OMP_NUM_THREADS=1 python scripts/stacked_modes_ceiling.py stacked/stacked.npz --n 26000 --pad 2   # at 32 px

The first n images of the set are used (it is itself a seeded random draw). --pad 2 pads each channel with 2 px
of black, as data.pad=2 makes 32 px images for the DCGAN nets; the classifier resizes them back to 28.
"""

import argparse
import json
import time

import numpy as np

from wganlab.metrics.stacked_modes import PROTOCOL_SAMPLES, real_ceiling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacked", help="stacked.npz from `wganlab datasets get stacked-fashion-mnist`")
    parser.add_argument("--n", type=int, default=PROTOCOL_SAMPLES, help="real images to count")
    parser.add_argument("--pad", type=int, default=0, help="pixels of black padding per side (2: 32 px)")
    args = parser.parse_args()
    started = time.perf_counter()
    with np.load(args.stacked) as archive:
        images, labels = archive["images"][: args.n], archive["labels"][: args.n]
    if len(images) < args.n:
        parser.error(f"{args.stacked} holds {len(images)} images, fewer than --n {args.n}")
    if args.pad:
        images = np.pad(images, ((0, 0), (0, 0), (args.pad, args.pad), (args.pad, args.pad)))
    values = real_ceiling(images, labels)
    values["seconds"] = round(time.perf_counter() - started, 1)
    values["size"] = images.shape[-1]
    print(json.dumps(values, indent=2))


if __name__ == "__main__":
    main()
