"""Feature sets cut from other sets' files instead of being extracted again.

Every block is computed from the same cropped audio of a clip, whichever set asks for it,
so a block's values are the same in every set that holds it (``chroma`` is the first 24
columns of ``spectral``, ``cqt`` the last 252 of ``chroma_cqt``, bit for bit). A run that
needs several sets therefore extracts only a few of them from audio (``plan_extraction``)
and *assembles* the others from those files (``assemble_feature_set``): the same bytes,
without decoding every clip and computing its CQT again for each set. The default grid's
five sets are extracted as three (``compare``, ``spectral``, ``cqt``).

Sets read from files a dataset ships (``deam260``) are never assembled and never serve as
sources: their values are not computed by mer.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np

from mer.errors import DataError
from mer.features.registry import feature_set
from mer.features.storage import load_features
from mer.io import atomic_path


def plan_extraction(set_names: list[str]) -> dict[str, tuple[str, ...]]:
    """For each of ``set_names``, the sets its columns are taken from.

    An empty tuple means the set is extracted from audio. Otherwise the set is assembled,
    block by block, from the extracted sets listed (each block from the first of them, in
    ``set_names`` order, that holds it). The extracted sets are the cheapest group that holds
    every block of every set: fewest blocks computed (each block costs its own spectrum
    work per clip), then fewest sets (each extraction decodes every clip), then earliest in
    ``set_names``. A run has a handful of sets, so every group is tried.
    """
    names = list(dict.fromkeys(set_names))
    computed = [name for name in names if not feature_set(name).precomputed]
    needed = {block for name in computed for block in feature_set(name).blocks}

    def cost(group):
        blocks = {block for name in group for block in feature_set(name).blocks}
        return len(blocks), len(group), [names.index(name) for name in group]

    covering = (group for size in range(1, len(computed) + 1)
                for group in combinations(computed, size)
                if needed <= {block for name in group for block in feature_set(name).blocks})
    extracted = min(covering, key=cost, default=())
    plan = {}
    for name in names:
        if name not in computed or name in extracted:
            plan[name] = ()
            continue
        sources = [next(source for source in extracted if block in feature_set(source).blocks)
                   for block in feature_set(name).blocks]
        plan[name] = tuple(dict.fromkeys(sources))
    return plan


def assemble_feature_set(set_name: str, sources: list[tuple[Path, Path]],
                         values_path: Path, index_path: Path) -> None:
    """Write ``set_name``'s merged files (``values_path`` .npy, ``index_path`` .json, the
    format of ``merge_shards``) from the merged files of its source sets.

    ``sources`` are (values, index) pairs. Each column of the set is copied from the first
    source that has a column of that name; ``DataError`` if a column is missing or the
    sources hold different songs or frames. Songs are copied one block of rows at a time
    from memory-mapped sources, so memory holds one block, not the dataset.
    """
    wanted = feature_set(set_name).columns
    tables = [load_features(Path(values), Path(index)) for values, index in sources]
    first = tables[0]
    for (values, _), table in zip(sources, tables):
        if not (np.array_equal(table.song_ids, first.song_ids)
                and np.array_equal(table.lengths, first.lengths)):
            raise DataError(f"{values}: its songs or frames differ from {sources[0][0]}'s; "
                            f"delete data/features and run the pipeline again")
    where = {}
    for position, table in enumerate(tables):
        for column_number, column in enumerate(table.columns):
            where.setdefault(column, (position, column_number))
    missing = [column for column in wanted if column not in where]
    if missing:
        raise DataError(f"{set_name}: column(s) {missing[:5]} are in none of "
                        f"{', '.join(str(values) for values, _ in sources)}")
    picks = [[(out, where[column][1]) for out, column in enumerate(wanted)
              if where[column][0] == position] for position in range(len(tables))]
    with atomic_path(Path(values_path)) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                        shape=(len(first.values), len(wanted)))
        step = 8192  # rows per copy (the sources are librosa sets of at most 276 columns)
        for start in range(0, len(first.values), step):
            for table, pick in zip(tables, picks):
                if pick:
                    out_columns, in_columns = zip(*pick)
                    out[start:start + step, list(out_columns)] = \
                        table.values[start:start + step][:, list(in_columns)]
        out.flush()
        del out
    index = json.loads(Path(sources[0][1]).read_text())
    index.update(feature_set=set_name, dims=len(wanted), columns=wanted)
    with atomic_path(Path(index_path)) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
