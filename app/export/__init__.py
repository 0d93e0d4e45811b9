"""Reviewed labels out to training: which frames, which split, and the files (16-bit
PNG, indexed masks, COCO RLE, a manifest), built in a staging folder and renamed in."""
