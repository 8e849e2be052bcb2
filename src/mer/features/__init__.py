"""Frame-level audio features for mer: registry, extraction, shard files.

Conventions (details in each submodule's docstring):

* Input audio: mono float32 at ``frames.SAMPLE_RATE`` (``mer.audio.load_audio``).
* Output: per feature set, (n_frames, dims) float32, one row per whole-clip 500 ms frame
  ``k`` covering ``[0.5 k, 0.5 k + 0.5)`` s (``mer.frames``); files hold the 61 annotated
  frames 29..89.
* librosa blocks (``spectra``): hops of 512 samples, ``center=True``, pooled into frame
  ``k`` as the mean of the hops whose centres fall inside ``[0.5 k, 0.5 k + 0.5)`` s.
* ComParE (``compare``): openSMILE ComParE_2016 functionals, 6373 dims (the paper says
  6670), ``compare_mode`` ``per_segment`` (default) or ``one_pass``.
* Files: ``extract_shard`` (pipeline; a failed clip leaves no shard, the clips that
  succeeded wait in ``<shard>.clips/`` for the rerun) and ``extract_files``
  (``mer features extract``: any files, all frames, one ``.npz``); a set whose blocks other
  sets of the run compute is cut from their files (``assemble``).

Importing this package is cheap: librosa and openSMILE are imported when first used.
"""

from mer.features.assemble import assemble_feature_set, plan_extraction
from mer.features.compare import COMPARE_MODES
from mer.features.extract import extract_clip_features, extract_file_features
from mer.features.registry import BLOCKS, FEATURE_SETS, Block, FeatureSet, feature_set
from mer.features.storage import (FeatureTable, extract_files, extract_shard, load_features,
                                  merge_shards)

__all__ = ["BLOCKS", "COMPARE_MODES", "FEATURE_SETS", "Block", "FeatureSet", "FeatureTable",
           "assemble_feature_set", "extract_clip_features", "extract_file_features", "extract_files", "extract_shard",
           "feature_set", "load_features", "merge_shards", "plan_extraction"]
