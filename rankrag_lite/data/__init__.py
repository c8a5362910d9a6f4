"""Data: record schemas, source loaders, BM25 hard-negative mining and the Stage-2 blend.

Where each idea lives: the records every stage passes around in :mod:`.schemas`; opening a source
(local file, BEIR folder or hub name), sniffing its format and handing it to its reader in
:mod:`.sources` (the readers, hub access and the format names are in :mod:`rankrag_lite.formats`,
the floor below, which imports nothing from here but the schemas); hard negatives in
:mod:`.hard_negatives`; the blend in :mod:`.blend`.
"""
