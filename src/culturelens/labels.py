"""Scoring a label task (CuLEmo): predicted label vs the gold label of the prompt's culture.

Definitions (every table and figure uses exactly these):

- **culture of a prompt row**: its target country (``country``; the persona, or the country whose
  language the prompt is in), or ``none`` without one (default prompting), whose gold label is the
  study's country-free annotation (CuLEmo's English one). ``language`` is the annotation's language.
- **predicted label**: the option with the highest probability in the model's answer distribution
  (first-token log-probabilities, the share of sampled answers, or the stated probabilities; see
  culturelens.elicit for how free-text answers are matched to options). Ties are broken at random,
  seeded by (model, prompt, culture), so a respondent with a flat distribution guesses; ``tied``
  says how many labels shared the top.
- **unreadable answer**: a prompt row the model answered but whose answer names no label (a
  refusal, a label outside the set, an answer in another script, two labels, an empty or
  malformed reply, coverage below the floor with ``coverage.exclude``): it has no predicted label
  and counts as WRONG, as in the CuLEmo paper, SemEval's official evaluation and lm-eval-harness.
  Its kind is kept (``unreadable``, grouped by :data:`UNREADABLE`). A request that got no answer
  at all (it failed: a server error, a timeout, a batch still pending) is not an answer of the
  model: it is counted (``n_failed``) and left out until a rerun sends it again. Prompt rows nobody
  answered because the respondent abstains (a reference respondent outside its task; an imported
  file without an answer for the prompt) were not asked and are not scored.
- **correct**: predicted label == gold label (0/1; 0 for an unreadable answer); ``p_gold`` is the
  probability the answer put on the gold label (the expected accuracy of sampling from it; 0 for an
  unreadable answer).
- **accuracy**: the share of correct rows of a cell (model, condition, culture) over EVERY row
  asked, unreadable ones included; every paraphrase and option order of a question is a row (an
  answer that does not vary with them, as an imported one, is one row: culturelens.elicit).
  ``accuracy_readable`` is the same share over the readable answers only (a second figure: how
  good the answers are that could be read).
- **macro-F1**: the mean over labels of F1 = 2·TP / (2·TP + FP + FN), over the labels that occur in
  the cell as gold or as a readable prediction; an unreadable answer is a miss (FN) of its gold
  label and nobody's false positive. This is scikit-learn's ``f1_score(gold, pred, labels=L,
  average="macro")`` with L those labels (a separate "invalid" class of F1 0, as lm-eval-harness's
  ``[invalid]`` string becomes, would lower the mean further by joining the average);
  ``macro_f1_readable`` is computed over the readable answers only.
- **intervals**: 95 % percentile bootstrap over questions (the rows of one question are resampled
  together: its paraphrases and orders are not independent answers), ``B`` draws seeded by the
  cell's key (the same interval whatever else the table holds).
  A difference between two conditions is bootstrapped paired: the same questions in both.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

B = 1000
SEED = 20250
KEYS = ["model", "condition", "country", "prompt_lang"]
ROW = ["model", "item_id", "item_lang", "prompt_lang", "condition", "persona", "country", "paraphrase",
       "option_order", "prompt_id"]
#: the kinds of unreadable answer the tables count apart, and the reasons (culturelens.elicit's
#: UNPARSEABLE_KINDS, or a response's status) each takes in
UNREADABLE = {
    "refusal": ("refusal",),
    "outside_set": ("no_label", "off_scale"),
    "other_script": ("other_script",),
    "ambiguous": ("ambiguous",),
    "empty": ("empty",),
    "malformed": ("no_logprobs", "no_json", "invalid_probabilities", "unexpected_shape"),
    "low_coverage": ("low_coverage",),   # excluded below the coverage floor (culturelens.coverage)
    "budget_exhausted": ("budget_exhausted",),   # a reasoning model's allowance ran out before it answered
}
#: reasons a prompt row has no answer that mean it was not asked (not scored)
NOT_ASKED = ("abstained",)
#: reasons a request got no answer at all (not scored; counted as n_failed)
NOT_ANSWERED = ("failed", "missing")
UNREADABLE_LABEL = "(unreadable)"
NO_PREDICTION = -1
PREDICTION_COLUMNS = [*ROW, "language", "gold", "predicted", "gold_label", "predicted_label", "correct", "p_gold",
                      "tied", "readable", "unreadable"]
SCORE_COLUMNS = [*KEYS, "language", "n_items", "n_rows", "n_failed", "n_readable", "n_unreadable",
                 *[f"n_{kind}" for kind in UNREADABLE], "accuracy", "accuracy_low", "accuracy_high",
                 "macro_f1", "macro_f1_low", "macro_f1_high", "accuracy_readable", "macro_f1_readable", "mean_p_gold"]


def unreadable_kind(reason: str) -> str:
    """The UNREADABLE group of an invalid row's reason (``malformed`` for one not listed)."""
    for kind, reasons in UNREADABLE.items():
        if reason in reasons:
            return kind
    return "malformed"
DIFFERENCE_COLUMNS = ["model", "country", "language", "condition", "versus", "n_items", "accuracy", "accuracy_versus",
                      "difference", "difference_low", "difference_high"]


def _tie_break(keys: list[str], n_tied: np.ndarray) -> np.ndarray:
    """A deterministic uniform choice among ``n_tied`` tied labels per row, from a hash of its key."""
    draws = np.fromiter((int(hashlib.sha256(k.encode()).hexdigest()[:12], 16) for k in keys), dtype=np.int64,
                        count=len(keys))
    return draws % np.maximum(n_tied, 1)


def predictions(dist: pd.DataFrame, gold: pd.DataFrame, names: list[str],
                invalid: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per prompt row asked: predicted and gold label, correct, p_gold (module docstring).

    ``dist``: culturelens.elicit long distributions (one row per prompt row and option, with
    ``model``); ``invalid``: elicit's rows without a distribution (with ``model`` and ``reason``):
    unreadable answers enter as wrong, with their kind; abstentions (NOT_ASKED) are left out.
    ``gold``: the study's labels table (item_id, country, lang, option_index); ``names``: the label
    names by option index (for readable columns). Prompt rows whose culture has no gold label for
    the item are left out (they cannot be scored)."""
    g = gold.rename(columns={"option_index": "gold", "lang": "language"})[["item_id", "country", "language", "gold"]]
    dist = dist.merge(g, on=["item_id", "country"], how="inner")   # rows without a gold label: not scored
    parts = []
    if not dist.empty:
        dist = dist.sort_values([*ROW, "option_index"], kind="stable")
        top = dist.groupby(ROW, sort=False, observed=True)["prob"].transform("max")
        dist = dist.assign(is_top=np.isclose(dist["prob"].to_numpy(), top.to_numpy(), rtol=0, atol=1e-12),
                           on_gold=dist["prob"].where(dist["option_index"] == dist["gold"], 0.0))
        rows = dist.groupby(ROW, sort=False, observed=True)
        out = rows[["language", "gold"]].first().reset_index()
        out["tied"] = rows["is_top"].sum().to_numpy()
        out["p_gold"] = rows["on_gold"].sum().to_numpy()
        tops = dist[dist["is_top"]]
        keys = (out["model"] + "|" + out["prompt_id"] + "|" + out["condition"] + "|" + out["country"]).tolist()
        choice = _tie_break(keys, out["tied"].to_numpy())
        first = np.concatenate([[0], np.cumsum(out["tied"].to_numpy())[:-1]])
        out["predicted"] = tops["option_index"].to_numpy()[first + choice].astype(int)
        out["readable"], out["unreadable"] = True, ""
        parts.append(out)
    if invalid is not None and len(invalid):
        asked = invalid[~invalid["reason"].isin(NOT_ASKED + NOT_ANSWERED)]
        bad = asked.merge(g, on=["item_id", "country"], how="inner")[[*ROW, "language", "gold", "reason"]]
        if len(bad):
            parts.append(bad.assign(tied=0, p_gold=0.0, predicted=NO_PREDICTION, readable=False,
                                    unreadable=[unreadable_kind(r) for r in bad["reason"]]).drop(columns="reason"))
    if not parts:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out["gold"] = out["gold"].astype(int)
    out["predicted"] = out["predicted"].astype(int)
    out["correct"] = (out["predicted"] == out["gold"]).astype(int)
    label = lambda i: UNREADABLE_LABEL if i == NO_PREDICTION else names[i] if i < len(names) else str(i)  # noqa: E731
    out["gold_label"] = [label(i) for i in out["gold"]]
    out["predicted_label"] = [label(i) for i in out["predicted"]]
    return out[PREDICTION_COLUMNS].reset_index(drop=True)


def macro_f1(gold: np.ndarray, pred: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Macro-F1 (module docstring) of one cell, or of each row of ``weights`` (draws × rows).
    ``pred`` may hold NO_PREDICTION (an unreadable answer): a miss of its gold label, no label's
    false positive, and no label of its own in the mean."""
    w = np.ones((1, len(gold))) if weights is None else np.atleast_2d(weights)
    pred = np.where(np.asarray(pred) == NO_PREDICTION, k, pred)
    eye = np.eye(k + 1)
    g, p = eye[gold][:, :k], eye[pred][:, :k]
    tp = w @ (g * (gold == pred)[:, None])
    denom = w @ g + w @ p
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, np.nan)
        out = np.nanmean(f1, axis=1) if f1.size else np.full(len(w), np.nan)
    return out[0] if weights is None else out


def _rng(seed: int, key) -> np.random.Generator:
    """A generator per cell, seeded by the cell's key: its interval does not move when models or
    countries are added to the table."""
    return np.random.default_rng([seed, int(hashlib.sha256(repr(tuple(key)).encode()).hexdigest()[:12], 16)])


def _draws(n_items: int, rng: np.random.Generator) -> np.ndarray:
    """B × n_items bootstrap multiplicities (questions resampled with replacement)."""
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=B).astype(float)


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def failed(invalid: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    """Per (model, condition, culture, prompt language): the requests with a gold label that got no
    answer (NOT_ANSWERED), as ``n_failed``."""
    rows = invalid[invalid["reason"].isin(NOT_ANSWERED)].merge(gold[["item_id", "country"]], on=["item_id", "country"])
    return rows.groupby(KEYS, sort=True, observed=True).size().reset_index(name="n_failed")


def scores(pred: pd.DataFrame, k: int, seed: int = SEED, failures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Accuracy and macro-F1 with bootstrap intervals per (model, condition, culture, prompt
    language), over every row answered; the unreadable rows counted by kind; both figures also over
    the readable rows only; ``failures`` (:func:`failed`) gives each cell's ``n_failed``."""
    n_failed = {} if failures is None else {tuple(r[:-1]): int(r[-1]) for r in failures[[*KEYS, "n_failed"]].itertuples(
        index=False, name=None)}
    rows = []
    for key, cell in pred.groupby(KEYS, sort=True, observed=True):
        codes, items = pd.factorize(cell["item_id"])
        rng = _rng(seed, key)
        w = _draws(len(items), rng)[:, codes]
        gold, guess = cell["gold"].to_numpy(int), cell["predicted"].to_numpy(int)
        correct = cell["correct"].to_numpy(float)
        readable = cell["readable"].to_numpy(bool)
        acc_draws = (w @ correct) / w.sum(axis=1)
        f1_draws = macro_f1(gold, guess, k, w)
        kinds = cell.loc[~readable, "unreadable"].value_counts()
        rows.append([*key, cell["language"].iloc[0], len(items), len(cell), n_failed.get(tuple(key), 0),
                     int(readable.sum()), int((~readable).sum()),
                     *[int(kinds.get(kind, 0)) for kind in UNREADABLE], correct.mean(), *_interval(acc_draws),
                     macro_f1(gold, guess, k), *_interval(f1_draws),
                     correct[readable].mean() if readable.any() else np.nan,
                     macro_f1(gold[readable], guess[readable], k) if readable.any() else np.nan,
                     cell["p_gold"].mean()])
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def confusion(pred: pd.DataFrame) -> pd.DataFrame:
    """Prompt rows per (model, condition, culture, gold label, predicted label)."""
    cols = [*KEYS, "gold_label", "predicted_label"]
    return pred.groupby(cols, sort=True, observed=True).size().reset_index(name="n")


def differences(pred: pd.DataFrame, condition: str, versus: str, seed: int = SEED) -> pd.DataFrame:
    """Accuracy under ``condition`` minus under ``versus`` per (model, culture), on the questions
    answered under both, with a paired bootstrap interval over questions."""
    a, b = pred[pred["condition"] == condition], pred[pred["condition"] == versus]
    out = []
    for (model, country), cell_a in a.groupby(["model", "country"], sort=True):
        cell_b = b[(b["model"] == model) & (b["country"] == country)]
        shared = sorted(set(cell_a["item_id"]) & set(cell_b["item_id"]))
        if not shared:
            continue
        per = []
        for cell in (cell_a, cell_b):
            grp = cell[cell["item_id"].isin(shared)].groupby("item_id")["correct"].agg(["sum", "count"])
            per.append(grp.reindex(shared).to_numpy(float))
        w = _draws(len(shared), _rng(seed, (model, country, condition, versus)))
        acc = [(w @ p[:, 0]) / (w @ p[:, 1]) for p in per]
        point = [p[:, 0].sum() / p[:, 1].sum() for p in per]
        out.append([model, country, cell_a["language"].iloc[0], condition, versus, len(shared), point[0], point[1],
                    point[0] - point[1], *_interval(acc[0] - acc[1])])
    return pd.DataFrame(out, columns=DIFFERENCE_COLUMNS)
