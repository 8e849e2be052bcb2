"""A synthetic stand-in for emoMusic: generated music whose emotion models must work for.

The real "1000 Songs" set cannot be downloaded everywhere, so the default pipeline runs on
a dataset generated here, deterministically from a seed, in exactly the emoMusic layout.
It is built so that the data tell models apart rather than reward one loudness knob:

* **emotion** (``emotion``): per song, latent arousal / valence levels and slow
  within-song variation fitted to the real annotations' statistics, a key plan whose
  modes follow valence, and the *perceived* valence, which follows the mode established
  over the preceding bars (a model that looks back earns something);
* **raters** (``raters``): lag, smoothing and noise of the published rater averages, the
  rater spread and the static 1-9 ratings; ``annotation_statistics``;
* **styles** (``styles``): per song, how much each cue (tempo, density, percussion,
  brightness, dynamics; register, consonance) carries the emotion -- no cue carries it
  alone;
* **music** (``music``, ``instruments``): score and audio; every song mastered at its
  own loudness, independent of its emotion;
* **layout** (``layout``): song ids, the Mediaeval 2013 split, the emoMusic files.

Public entry points: ``generate_synthetic_dataset`` (the workflow's), ``synthesize_song``,
``draw_song_emotion`` / ``draw_annotations`` (annotations without audio, cheap),
``annotation_statistics``, ``choose_song_ids``. The measured properties (single-feature
correlations, realism statistics, generation time) are in ``benchmarks/synthetic.py`` and
docs/builtin-dataset.md.
"""

from mer.data.synthetic.emotion import (CLIP_SECONDS_RANGE, CONTROL_RATE, DRIVE_SCALE,
                                        EmotionModel, KeyPlan, SongEmotion, draw_annotations,
                                        draw_song_emotion)
from mer.data.synthetic.layout import (EVALUATION_SHARE, N_REAL_SONGS, SONG_ID_RANGE,
                                       choose_song_ids, generate_synthetic_dataset)
from mer.data.synthetic.raters import STATIC_SCALE, annotation_statistics
from mer.data.synthetic.song import SyntheticSong, synthesize_song
from mer.data.synthetic.styles import AROUSAL_CUES, GENRES, STYLES, VALENCE_CUES, SongStyle, Style

__all__ = ["AROUSAL_CUES", "CLIP_SECONDS_RANGE", "CONTROL_RATE", "DRIVE_SCALE",
           "EVALUATION_SHARE", "GENRES", "N_REAL_SONGS", "SONG_ID_RANGE", "STATIC_SCALE",
           "STYLES", "VALENCE_CUES", "EmotionModel", "KeyPlan", "SongEmotion", "SongStyle",
           "Style", "SyntheticSong", "annotation_statistics", "choose_song_ids",
           "draw_annotations", "draw_song_emotion", "generate_synthetic_dataset",
           "synthesize_song"]
