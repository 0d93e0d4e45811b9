"""``thermorig experiment NAME --study DIR --out DIR``: the papers this project rests on,
each reproduced as a table on a lab's own study (or a synthetic one).

- :mod:`.thermocyclenet` — a small UNet on thermal: manual-only, auto-only, and auto
  pre-training then fine-tuning on a share of the manual labels; cross-subject.
- :mod:`.spmkd` — self-supervised keypoints (spatial softmax, decoder rebuilding the
  input from the keypoints alone, CRWT), scored after a linear map to true joints.
- :mod:`.latent` — a CUTS-style per-pixel encoder trained without labels, then a light
  decoder on frozen latents from a few labeled frames.

Each module has ``run(req: ExperimentRequest, log: Log) -> tuple[dict, str]``: the
result in the one shape of :mod:`.common` (so studies can be compared and scripted
alike) and the Markdown report; the command publishes both into ``--out``. Plots and
trained packages are written under ``--out`` by the experiment itself, never over an
existing file.
"""

NAMES = ("thermocyclenet", "spmkd", "latent")
