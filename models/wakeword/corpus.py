"""Synthesize the clip sets of one phrase into the cache.

Who speaks what (the honest list of what is held out):
  train  espeak-ng languages/variants in TRAIN_*, festival voices in synth.FESTIVAL_TRAIN,
         texts from texts.training_speech and the confusables;
  valid  (training's own quality gate) espeak-ng languages/variants in VALID_* and
         festival voices in synth.FESTIVAL_VALID: same engines, unseen voices;
  eval   (the benchmark) flite's five voices and festival's kal and slt voices: an
         unseen engine and unseen speakers, reading unseen text (Python docstrings);
         mixed with noise kinds training never hears (augment.EVAL_NOISES).
"""

import hashlib
import re
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import stamp, synth, texts, vocode
from .audio import clips_load, clips_save, to_int16

TRAIN_LANGS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc",
               "de", "fr-fr", "es", "it", "pl", "pt", "sv", "fi", "cs", "ru", "da", "ro", "hu", "af"]
VALID_LANGS = ["en-gb-x-rp", "en-029", "nl", "es-419", "pt-br"]
TRAIN_VARIANTS = ["", "m1", "m2", "m3", "m5", "m6", "m7", "f1", "f2", "f4", "klatt", "klatt2", "klatt3",
                  "croak", "adam", "Alex", "Andy", "Annie", "belinda", "benjamin", "caleb", "david",
                  "ed", "edward", "linda", "max", "michel", "paul", "robert", "steph", "travis",
                  "victor", "whisper", "grandma", "grandpa", "iven", "Jacky", "Lee", "quincy", "zac"]
VALID_VARIANTS = ["m4", "f3", "f5", "klatt4", "john", "Andrea", "shelby", "norbert"]
# More speakers for the "_x" sets: every other espeak-ng language that reads the
# phrase with its own rules (accents), every other variant, wider pitch and speed.
# The validation languages and variants above stay out.
TRAIN_LANGS_X = ["bg", "bs", "hr", "sk", "sl", "sr", "uk", "el", "tr", "lt", "lv", "et", "is", "nb", "ga",
                 "cy", "gd", "eo", "id", "ms", "vi", "hi", "bn", "ta", "te", "ml", "kn", "mr", "ur", "ar",
                 "he", "fa", "sw", "ja", "cmn", "ko", "fr-be", "fr-ch", "ka", "hy", "az", "kk", "mt", "sq",
                 "mk", "eu", "la", "ia", "ca", "en-gb", "en-us", "en-gb-scotland", "en-us-nyc"]
TRAIN_VARIANTS_X = ["Alicia", "AnxiousAndy", "Denis", "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Marco",
                    "Mario", "Michael", "Mike", "Mr serious", "Nguyen", "RicishayMax", "RicishayMax2",
                    "Storm", "Tweaky", "anika", "announcer", "antonio", "aunty", "boris", "edward2", "fast",
                    "gustave", "iven2", "iven3", "iven4", "kaukovalta", "klatt5", "klatt6", "m8", "marcelo",
                    "miguel", "pablo", "pedro", "rob", "sandro", "steph2", "steph3", "whisperf", "robosoft3"]

COUNTS = {  # clips per set; speech counts are engine calls of a few sentences each
    "pos_espeak": (2400, 300), "conf_espeak": (1600, 240), "speech_espeak": (150, 16),
    "speech_festival": (45, 8),
    "pos_espeak_x": 2400, "conf_espeak_x": 1600, "speech_espeak_x": 100,
    "speech_festival_f": 48,  # per voice, 4 sentences each: about 3x the festival speech above
    # festival's diphone voices with moved pitch (per voice; the English one, ked, more)
    "pos_festival_p": (240, 60), "conf_festival_p": (3, 1), "speech_festival_p": 12,
}
TRAINING_PARTS = ["pos_train", "pos_valid", "conf_train", "conf_valid", "speech_train", "speech_valid",
                  "pos_train_x", "conf_train_x", "speech_train_x", "speech_train_f",
                  "pos_train_p", "conf_train_p", "speech_train_p", "pos_train_v", "conf_train_v", "speech_train_v",
                  "pos_train_s", "conf_train_s", "speech_train_s"]
X_PARTS = ["pos_train_x", "conf_train_x", "speech_train_x"]
# More festival speech for the negatives (train --festival-speech): the training
# festival voices reading other training sentences, so that a festival voice alone
# is less of a cue for the phrase.
F_PARTS = ["speech_train_f"]
# Festival's training diphone voices (the family of the held-out kal) as new
# speakers (train --festival-pitch): pitch level 0.6-1.7x and its spread 0.4-2x
# drawn per clip, speed 0.8-1.3; positives, confusables and speech alike, so
# that a moved pitch is no cue for the phrase.
P_PARTS = ["pos_train_p", "conf_train_p", "speech_train_p"]
# Festival's training clips (P_PARTS included) made again through a vocoder with
# pitch, vocal tract and envelope detail drawn per copy (vocode.py; train
# --festival-vocoded): more speakers from recorded voices, where espeak-ng's are
# all one formant synthesizer. The held-out voices are all recorded voices.
V_PARTS = ["pos_train_v", "conf_train_v", "speech_train_v"]
V_COPIES = {"pos_train_v": 3, "conf_train_v": 2, "speech_train_v": 1}
# The same clips made again as a statistical voice would say them (vocode.statistical;
# train --festival-statistical), positives, confusables and speech alike, so that a
# smeared voice is no cue for the phrase: the held-out voices the model misses most
# are statistical ones, and no training voice speaking English is.
S_PARTS = ["pos_train_s", "conf_train_s", "speech_train_s"]
S_COPIES = {"pos_train_s": 2, "conf_train_s": 2, "speech_train_s": 2}
EVAL_STRETCH = [0.8, 0.9, 1.0, 1.1, 1.25]
EVAL_F0 = [None, 95, 140]
# A second, fresh held-out split of positives (declared before any model was
# scored on it): the same held-out voices, other carriers, speeds and pitches.
EVAL_B_STRETCH = [0.85, 1.0, 1.18]
EVAL_B_F0 = [110, 125]


def slug(phrase):
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


def cache_dir(phrase, root):
    """The phrase's cache directory, emptied first if other code made its data (stamp.py)."""
    return stamp.refresh(Path(root) / slug(phrase))


def _lang_key(lang):
    return "en" if lang.startswith("en") else lang.split("-")[0]


def _espeak_job(job):
    text, voice, speed, pitch = job
    try:
        return synth.espeak(text, voice, speed, pitch)
    except Exception:  # one voice that fails must not sink the whole set
        return None


def _espeak_set(rng, langs, variants, n, pick_text, workers, speeds=(110, 231), pitches=(15, 91)):
    jobs = []
    for _ in range(n):
        lang = langs[rng.integers(len(langs))]
        var = variants[rng.integers(len(variants))]
        voice = lang + ("+" + var if var else "")
        jobs.append((pick_text(lang), voice, int(rng.integers(*speeds)), int(rng.integers(*pitches))))
    with ThreadPoolExecutor(workers) as ex:
        clips = list(ex.map(_espeak_job, jobs))
    keep = [(c, {"engine": "espeak-ng", "voice": j[1], "text": j[0], "speed": j[2], "pitch": j[3]})
            for c, j in zip(clips, jobs) if c is not None and len(c) > 1600]
    return [k[0] for k in keep], [k[1] for k in keep]


def _festival_set(voices, items_of, workers, resume=False):
    def one(voice):
        items = items_of(voice)
        return voice, items, synth.festival(voice, items, resume=resume)

    clips, meta = [], []
    with ThreadPoolExecutor(workers) as ex:
        for voice, items, outs in ex.map(one, voices):
            for item, c in zip(items, outs):
                text, stretch = item[:2]
                if c is not None and len(c) > 1600:
                    clips.append(c)
                    meta.append({"engine": "festival", "voice": voice, "text": text, "stretch": stretch})
                    if len(item) > 2:
                        meta[-1].update(f0_scale=item[2], f0_range=item[3])
    return clips, meta


_FEST_LANG = {"ked_diphone": "en", "kal_diphone": "en", "cmu_us_slt_arctic_hts": "en",
              "czech_dita": "cs", "czech_krb": "cs", "czech_ph": "cs", "czech_machac": "cs",
              "upc_ca_ona_hts": "ca", "hy_fi_mv_diphone": "fi", "suo_fi_lj_diphone": "fi",
              "lp_diphone": "it", "pc_diphone": "it", "msu_ru_nsh_clunits": "ru",
              "hindi_NSK_diphone": "hi", "marathi_NSK_diphone": "hi", "telugu_NSK_diphone": "te"}


def _chunks(sents, per):
    return [". ".join(sents[i:i + per]) + "." for i in range(0, len(sents) - per + 1, per)]


def build(phrase, root, *, seed=0, workers=2, progress=None, parts=None):
    """Synthesize every missing set for `phrase` under root/<slug>; return the dir."""
    out = cache_dir(phrase, root)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{phrase}/{seed}".encode()).digest()[:4], "little"))
    conf = texts.confusables(phrase)
    n_conf_train = max(1, int(len(conf) * 0.8))
    conf_train, conf_valid = conf[:n_conf_train], conf[n_conf_train:] or conf[:3]
    speech = texts.training_speech(phrase, rng)
    split = int(len(speech) * 0.9)
    speech_train, speech_valid = speech[:split], speech[split:]

    def pos_text(lang):
        opts = texts.respellings(phrase, _lang_key(lang))
        if _lang_key(lang) != "en" and rng.random() < 0.4:
            opts = texts.respellings(phrase, "en")[:3]  # the English spelling, read with an accent
        return opts[rng.integers(len(opts))]

    def conf_text(pool):
        return lambda lang: pool[rng.integers(len(pool))]

    def speech_text(pool):
        return lambda lang: ". ".join(pool[i] for i in rng.integers(len(pool), size=10)) + "."

    stretches = [0.8, 0.9, 1.0, 1.12, 1.25]
    eval_speech = texts.evaluation_speech(phrase)

    def fest_items(kind, valid):
        def items(voice):
            lang = _FEST_LANG.get(voice, "en")
            if kind == "pos":
                spell = texts.respellings(phrase, lang)[:5] + texts.respellings(phrase, "en")[:2]
                return [(t, s) for t in dict.fromkeys(spell) for s in stretches]
            if kind == "conf":
                pool = conf_valid if valid else conf_train
                return [(pool[i], stretches[i % len(stretches)]) for i in range(len(pool))]
            pool = speech_valid if valid else speech_train
            n = COUNTS["speech_festival"][1 if valid else 0]
            return [(". ".join(pool[j] for j in rng.integers(len(pool), size=4)) + ".", 1.0) for _ in range(n // 3 + 1)]
        return items

    wide = dict(speeds=(95, 261), pitches=(0, 100))
    langs_x, variants_x = TRAIN_LANGS + TRAIN_LANGS_X, TRAIN_VARIANTS + TRAIN_VARIANTS_X
    x_rng = np.random.default_rng(  # its own stream: the older sets keep their draws
        int.from_bytes(hashlib.sha256(f"{phrase}/{seed}/x".encode()).digest()[:4], "little"))

    def f_items(voice):  # a stream per voice: the draws do not depend on thread order
        r = np.random.default_rng(
            int.from_bytes(hashlib.sha256(f"{phrase}/{seed}/f/{voice}".encode()).digest()[:4], "little"))
        return [(". ".join(speech_train[j] for j in r.integers(len(speech_train), size=4)) + ".", 1.0)
                for _ in range(COUNTS["speech_festival_f"])]

    def p_items(kind):
        def items(voice):  # a stream per voice: the draws do not depend on thread order
            r = np.random.default_rng(int.from_bytes(
                hashlib.sha256(f"{phrase}/{seed}/p/{kind}/{voice}".encode()).digest()[:4], "little"))
            english = voice == "ked_diphone"
            if kind == "pos":
                lang = _FEST_LANG[voice]
                pool = [t for t in texts.respellings(phrase, "en") if not t.startswith("[[")]
                if not english:
                    pool = texts.respellings(phrase, lang)[:5] + pool[:2]
                texts_ = [pool[i] for i in r.integers(len(pool), size=COUNTS["pos_festival_p"][0 if english else 1])]
            elif kind == "conf":
                texts_ = conf_train * COUNTS["conf_festival_p"][0 if english else 1]
            else:
                texts_ = [". ".join(speech_train[j] for j in r.integers(len(speech_train), size=4)) + "."
                          for _ in range(COUNTS["speech_festival_p"])]
            return [(t, float(r.uniform(0.8, 1.3)), float(np.exp(r.uniform(np.log(0.6), np.log(1.7)))),
                     float(np.exp(r.uniform(np.log(0.4), np.log(2.0))))) for t in texts_]
        return items

    def x_text(pool):
        return lambda lang: pool[x_rng.integers(len(pool))]

    def native_items(kind):
        def items(voice):
            lang = _FEST_LANG[voice]
            pool = texts.respellings(phrase, lang) if kind == "pos" else texts.native_confusables(phrase, lang)
            return [(t, s) for t in pool for s in stretches]
        return items

    sets = {
        "pos_train": lambda: _merge(
            _espeak_set(rng, TRAIN_LANGS, TRAIN_VARIANTS, COUNTS["pos_espeak"][0], pos_text, workers),
            _festival_set(synth.FESTIVAL_TRAIN, fest_items("pos", False), workers)),
        "pos_valid": lambda: _merge(
            _espeak_set(rng, VALID_LANGS, VALID_VARIANTS, COUNTS["pos_espeak"][1], pos_text, workers),
            _festival_set(synth.FESTIVAL_VALID, fest_items("pos", True), workers)),
        "conf_train": lambda: _merge(
            _espeak_set(rng, TRAIN_LANGS, TRAIN_VARIANTS, COUNTS["conf_espeak"][0], conf_text(conf_train), workers),
            _festival_set(synth.FESTIVAL_TRAIN, fest_items("conf", False), workers)),
        "conf_valid": lambda: _merge(
            _espeak_set(rng, VALID_LANGS, VALID_VARIANTS, COUNTS["conf_espeak"][1], conf_text(conf_valid), workers),
            _festival_set(synth.FESTIVAL_VALID, fest_items("conf", True), workers)),
        "speech_train": lambda: _merge(
            _espeak_set(rng, TRAIN_LANGS, TRAIN_VARIANTS, COUNTS["speech_espeak"][0], speech_text(speech_train), workers),
            _festival_set(synth.FESTIVAL_TRAIN, fest_items("speech", False), workers)),
        "speech_valid": lambda: _merge(
            _espeak_set(rng, VALID_LANGS, VALID_VARIANTS, COUNTS["speech_espeak"][1], speech_text(speech_valid), workers),
            _festival_set(synth.FESTIVAL_VALID, fest_items("speech", True), workers)),
        "pos_train_x": lambda: _merge(
            _espeak_set(x_rng, langs_x, variants_x, COUNTS["pos_espeak_x"], pos_text, workers, **wide),
            _festival_set(synth.FESTIVAL_TRAIN_NATIVE, native_items("pos"), workers)),
        "conf_train_x": lambda: _merge(
            _espeak_set(x_rng, langs_x, variants_x, COUNTS["conf_espeak_x"], x_text(conf_train), workers, **wide),
            _festival_set(synth.FESTIVAL_TRAIN_NATIVE, native_items("conf"), workers)),
        "speech_train_x": lambda: _espeak_set(x_rng, langs_x, variants_x, COUNTS["speech_espeak_x"],
                                              lambda lang: ". ".join(speech_train[i] for i in x_rng.integers(
                                                  len(speech_train), size=10)) + ".", workers, **wide),
        "speech_train_f": lambda: _festival_set(synth.FESTIVAL_TRAIN, f_items, workers),
        "pos_train_p": lambda: _festival_set(synth.FESTIVAL_DIPHONE_TRAIN, p_items("pos"), workers, resume=True),
        "conf_train_p": lambda: _festival_set(synth.FESTIVAL_DIPHONE_TRAIN, p_items("conf"), workers, resume=True),
        "speech_train_p": lambda: _festival_set(synth.FESTIVAL_DIPHONE_TRAIN, p_items("speech"), workers, resume=True),
        "pos_train_v": lambda: _vocoded(out, ["pos_train", "pos_train_p"], "pos_train_v", seed, workers),
        "conf_train_v": lambda: _vocoded(out, ["conf_train", "conf_train_p"], "conf_train_v", seed, workers),
        "speech_train_v": lambda: _vocoded(out, ["speech_train", "speech_train_p"], "speech_train_v", seed, workers),
        "pos_train_s": lambda: _statistical(out, ["pos_train", "pos_train_p"], "pos_train_s", seed, workers),
        "conf_train_s": lambda: _statistical(out, ["conf_train", "conf_train_p"], "conf_train_s", seed, workers),
        "speech_train_s": lambda: _statistical(out, ["speech_train", "speech_train_p"], "speech_train_s", seed, workers),
        "eval_pos": lambda: _eval_positives(phrase, workers),
        "eval_pos_b": lambda: _eval_positives(phrase, workers, fresh=True),
        "eval_conf": lambda: _eval_set([(t, s, None) for t in conf for s in (0.9, 1.1)], workers),
        "eval_speech": lambda: _eval_set([(c, 1.0, f0) for c, f0 in zip(_chunks(eval_speech, 6), [None, 100, 130] * 9999)], workers),
    }
    # Other speech for evaluation does not depend on the phrase unless a sentence
    # had to be dropped for it: such sets are shared between phrases by content.
    shared = stamp.refresh(Path(root) / "shared") / f"eval_speech_{_digest(eval_speech)}.npz"
    link = out / "eval_speech.npz"
    if link.is_symlink() and not link.exists():  # its shared file was made again or removed
        link.unlink()
    if not link.exists() and shared.exists():
        link.symlink_to(shared)
    todo = [k for k in sets if (parts is None or k in parts) and not (out / f"{k}.npz").exists()]
    task = progress.add_task("synthesizing speech", total=len(todo)) if progress else None
    for name in todo:
        if progress:
            progress.update(task, description=f"synthesizing {name}")
        clips, meta = sets[name]()
        if name == "eval_speech":
            shared.parent.mkdir(parents=True, exist_ok=True)
            clips_save(shared, clips, meta)
            (out / "eval_speech.npz").symlink_to(shared)
        else:
            clips_save(out / f"{name}.npz", clips, meta)
        if progress:
            progress.advance(task)
    return out


def _vocode_job(job):
    clip, seed = job
    y, settings = vocode.perturb(clip, np.random.default_rng(seed))
    return to_int16(y), settings


def _statistical_job(job):
    clip, seed = job
    y, settings = vocode.statistical(clip, np.random.default_rng(seed))
    return to_int16(y), settings


def _festival_copies(out, sources, name, seed, copies):
    """[(clip, seed, its meta)]: `copies` of every festival clip in the source parts,
    each with its own seed."""
    clips, meta = [], []
    for src in sources:
        c, m = clips_load(out / f"{src}.npz")
        keep = [i for i, mm in enumerate(m) if mm["engine"] == "festival"]
        clips += [c[i] for i in keep]
        meta += [m[i] for i in keep]
    base = int.from_bytes(hashlib.sha256(f"{name}/{seed}".encode()).digest()[:4], "little")
    return [(c, base + 7 * i + k, m) for i, (c, m) in enumerate(zip(clips, meta)) for k in range(copies)]


def _vocoded(out, sources, name, seed, workers):
    """V_COPIES[name] vocoded copies of every festival clip in the source parts."""
    jobs = _festival_copies(out, sources, name, seed, V_COPIES[name])
    with ProcessPoolExecutor(workers) as ex:
        done = list(ex.map(_vocode_job, [j[:2] for j in jobs], chunksize=8))
    return [y for y, _ in done], [dict(j[2], vocoded=v) for j, (_, v) in zip(jobs, done)]


def _statistical(out, sources, name, seed, workers):
    """S_COPIES[name] statistical-voice copies of every festival clip in the source
    parts, longest first (so the workers finish together)."""
    jobs = sorted(_festival_copies(out, sources, name, seed, S_COPIES[name]), key=lambda j: -len(j[0]))
    with ProcessPoolExecutor(workers) as ex:
        done = list(ex.map(_statistical_job, [j[:2] for j in jobs], chunksize=4))
    return [y for y, _ in done], [dict(j[2], statistical=v) for j, (_, v) in zip(jobs, done)]


def _digest(sentences):
    return hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]


def _merge(a, b):
    return a[0] + b[0], a[1] + b[1]


def _eval_voices():
    return [("flite", v) for v in synth.FLITE_EVAL] + [("festival", v) for v in synth.FESTIVAL_EVAL]


def _eval_set(items, workers):
    """items: [(text, stretch, f0)]; spoken round-robin by the evaluation voices."""
    voices = _eval_voices()
    flite_jobs, fest_jobs = [], {}
    for i, (text, stretch, f0) in enumerate(items):
        engine, voice = voices[i % len(voices)]
        if engine == "flite":
            flite_jobs.append((text, voice, stretch, f0))
        else:
            fest_jobs.setdefault(voice, []).append((text, stretch))

    def fl(job):
        try:
            return synth.flite(job[0], job[1], job[2], job[3])
        except Exception:
            return None

    with ThreadPoolExecutor(workers) as ex:
        outs = list(ex.map(fl, flite_jobs))
    clips = [c for c in outs if c is not None]
    meta = [{"engine": "flite", "voice": j[1], "text": j[0], "stretch": j[2], "f0": j[3]}
            for c, j in zip(outs, flite_jobs) if c is not None]
    c2, m2 = _festival_set(list(fest_jobs), lambda v: fest_jobs[v], workers)
    return clips + c2, meta + m2


def _eval_positives(phrase, workers, fresh=False):
    plain = [phrase, phrase.replace(" ", ", ", 1), phrase + "!", phrase + "."]
    stretches, f0s = EVAL_STRETCH, EVAL_F0
    if fresh:
        plain = [f"okay, {phrase}", phrase + "?", f"um, {phrase}."]
        stretches, f0s = EVAL_B_STRETCH, EVAL_B_F0
    items = []
    for engine, voice in _eval_voices():
        for t in plain:
            for s in stretches:
                for f0 in (f0s if engine == "flite" else [None]):
                    items.append((engine, voice, t, s, f0))
    clips, meta = [], []
    flite_items = [i for i in items if i[0] == "flite"]

    def fl(it):
        return synth.flite(it[2], it[1], it[3], it[4])

    with ThreadPoolExecutor(workers) as ex:
        for it, c in zip(flite_items, ex.map(fl, flite_items)):
            clips.append(c)
            meta.append({"engine": "flite", "voice": it[1], "text": it[2], "stretch": it[3], "f0": it[4]})
    for voice in synth.FESTIVAL_EVAL:
        its = [(i[2], i[3]) for i in items if i[1] == voice]
        for (t, s), c in zip(its, synth.festival(voice, its)):
            if c is not None:
                clips.append(c)
                meta.append({"engine": "festival", "voice": voice, "text": t, "stretch": s})
    return clips, meta


def load(phrase, root, name):
    return clips_load(cache_dir(phrase, root) / f"{name}.npz")
