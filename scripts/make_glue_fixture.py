#!/usr/bin/env python3
"""Writes tiny synthetic GLUE tasks: made-up word sequences in the exact TSV layouts esrun's `glue`
dataset reads, for smoke runs (configs/smoke/glue_*.yaml) and tests. No real GLUE data.

    python3 scripts/make_glue_fixture.py runs/glue_fixture             # 96 train, 32 dev rows per task
    python3 scripts/make_glue_fixture.py OUT_DIR --rows 300            # 300 train, 100 dev rows per task

OUT_DIR/<Folder> for the folders CoLA SST-2 MRPC QQP STS-B MNLI QNLI RTE WNLI, each with train.tsv
and dev.tsv (MNLI: dev_matched.tsv and dev_mismatched.tsv); CoLA in GLUE's headerless form. The
output depends only on --rows (a fixed seed per task).

The labels are learnable in a few epochs by a tiny transformer:
- one sentence (SST-2, CoLA): the label is which of two cue-word lists the sentence draws a cue from;
- pairs (MRPC, QQP, QNLI, RTE, WNLI): the positive class repeats most words of the first sentence,
  the negative one replaces them with words of a second pool, which the first sentence never uses;
- MNLI: entailment repeats words of the first sentence, neutral replaces half of them with the
  second pool, contradiction repeats them and adds a negation;
- STS-B: the second sentence keeps k of the first one's n words, score = 5 k / n (0..5).
"""
import argparse
import os
import random

# esrun's data.glue.task -> GLUE's folder name.
FOLDERS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B", "mnli": "MNLI",
           "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}
SEED = 14  # GLUE support was issue 14

# The first sentence of a pair draws from FIRST_POOL; replaced words come from SECOND_POOL.
FIRST_POOL = ("the", "a", "dog", "cat", "house", "river", "man", "woman", "city", "book", "tree", "car", "sees",
              "likes", "finds", "near", "old", "small", "big", "red")
SECOND_POOL = ("moon", "piano", "lemon", "tiger", "cloud", "spoon", "violin", "desert", "rocket", "carpet",
               "pepper", "island")
NEGATIONS = ("not", "never", "nobody")
# One-sentence tasks: cue words of label 0 and label 1.
CUES = {"sst2": (("bad", "dull", "awful", "boring", "sad"), ("good", "great", "lovely", "fun", "happy")),
        "cola": (("himself", "whom", "seems", "been", "whose"), ("today", "there", "again", "here", "soon"))}


def filler(rng, low=4, high=7):
    return [rng.choice(FIRST_POOL) for _ in range(rng.randint(low, high))]


def cue_sentence(rng, task, label):
    words = filler(rng)
    words.insert(rng.randint(0, len(words)), rng.choice(CUES[task][label]))
    return " ".join(words)


def keep_words(rng, words, keep):
    """words with all but `keep` of them (at random places) replaced by SECOND_POOL words."""
    kept = set(rng.sample(range(len(words)), keep))
    return [w if i in kept else rng.choice(SECOND_POOL) for i, w in enumerate(words)]


def pair(rng, positive):
    first = filler(rng, 5, 8)
    keep = len(first) - rng.randint(0, 1) if positive else rng.randint(0, 1)
    return " ".join(first), " ".join(keep_words(rng, first, keep))


def balanced_labels(rng, count, labels):
    """count labels, as even a split of `labels` as count allows, in random order."""
    out = [labels[i % len(labels)] for i in range(count)]
    rng.shuffle(out)
    return out


def sst2(rng, count, split):
    rows = [["sentence", "label"]]
    for label in balanced_labels(rng, count, (0, 1)):
        rows.append([cue_sentence(rng, "sst2", label), str(label)])
    return rows


def cola(rng, count, split):
    # GLUE's CoLA: no header; source, label, the original author's mark ('*' = unacceptable), sentence.
    return [[rng.choice(("gj04", "bc01", "ks08", "r-67")), str(label), "" if label else "*",
             cue_sentence(rng, "cola", label)] for label in balanced_labels(rng, count, (0, 1))]


def mrpc(rng, count, split):
    rows = [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]]
    for label in balanced_labels(rng, count, (0, 1)):
        first, second = pair(rng, label == 1)
        rows.append([str(label), str(rng.randint(100000, 3999999)), str(rng.randint(100000, 3999999)), first, second])
    return rows


def qqp(rng, count, split):
    rows = [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]]
    for i, label in enumerate(balanced_labels(rng, count, (0, 1))):
        first, second = pair(rng, label == 1)
        rows.append([str(i), str(2 * i + 1), str(2 * i + 2), "why does " + first + "?", "why does " + second + "?",
                     str(label)])
    return rows


def stsb(rng, count, split):
    rows = [["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
             "score"]]
    for i in range(count):
        first = filler(rng, 5, 8)
        keep = rng.randint(0, len(first))
        rows.append([str(i), rng.choice(("main-captions", "main-news", "main-forums")), "MSRvid", "2012test",
                     f"{i + 1:04d}", "none", "none", " ".join(first), " ".join(keep_words(rng, first, keep)),
                     f"{5.0 * keep / len(first):.3f}"])
    return rows


def binary_parse(words):
    return "( " + " ".join(words) + " )"


def parse(words):
    return "(ROOT (S " + " ".join(f"(NN {w})" for w in words) + "))"


def mnli(rng, count, split):
    # Train has one annotator label (label1); the dev sets have five. The label is gold_label, the last column.
    annotators = 1 if split == "train" else 5
    rows = [["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
             "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"] +
            [f"label{k + 1}" for k in range(annotators)] + ["gold_label"]]
    genres = ("fiction", "government", "slate", "telephone", "travel") if split != "dev_mismatched" else \
        ("facetoface", "letters", "nineeleven", "oup", "verbatim")
    for i, label in enumerate(balanced_labels(rng, count, ("entailment", "neutral", "contradiction"))):
        first = filler(rng, 5, 8)
        if label == "neutral":
            second = keep_words(rng, first, len(first) // 2)
        else:
            second = rng.sample(first, len(first) - 1)
            if label == "contradiction":
                second.insert(rng.randint(0, len(second)), rng.choice(NEGATIONS))
        prompt = rng.randint(1000, 99999)
        rows.append([str(i), str(prompt), f"{prompt}{label[0]}", rng.choice(genres), binary_parse(first),
                     binary_parse(second), parse(first), parse(second), " ".join(first), " ".join(second)] +
                    [label] * annotators + [label])
    return rows


def entailment_pairs(header):
    def write_rows(rng, count, split):
        rows = [header]
        for i, label in enumerate(balanced_labels(rng, count, ("entailment", "not_entailment"))):
            first, second = pair(rng, label == "entailment")
            rows.append([str(i), first + "?" if header[1] == "question" else first, second, label])
        return rows
    return write_rows


def wnli(rng, count, split):
    rows = [["index", "sentence1", "sentence2", "label"]]
    for i, label in enumerate(balanced_labels(rng, count, (0, 1))):
        first, second = pair(rng, label == 1)
        rows.append([str(i), first, second, str(label)])
    return rows


# task -> (rows function, the dev files)
TASKS = {"cola": (cola, ("dev",)), "sst2": (sst2, ("dev",)), "mrpc": (mrpc, ("dev",)), "qqp": (qqp, ("dev",)),
         "stsb": (stsb, ("dev",)), "mnli": (mnli, ("dev_matched", "dev_mismatched")),
         "qnli": (entailment_pairs(["index", "question", "sentence", "label"]), ("dev",)),
         "rte": (entailment_pairs(["index", "sentence1", "sentence2", "label"]), ("dev",)), "wnli": (wnli, ("dev",))}


def write_tsv(path, rows):
    with open(path, "w", newline="") as out:
        out.write("".join("\t".join(row) + "\n" for row in rows))


def write_fixture(out_dir, rows=96):
    """Writes every task under out_dir; dev files get rows // 3 rows (at least 1)."""
    for index, (task, (make_rows, dev_files)) in enumerate(TASKS.items()):
        rng = random.Random(SEED * 100 + index)
        folder = os.path.join(out_dir, FOLDERS[task])
        os.makedirs(folder, exist_ok=True)
        for split in ("train",) + dev_files:
            write_tsv(os.path.join(folder, split + ".tsv"), make_rows(rng, rows if split == "train" else max(1, rows // 3),
                                                                      split))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="folder to write the task folders into (created if missing)")
    parser.add_argument("--rows", type=int, default=96, help="training rows per task; dev files get a third")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    write_fixture(args.out_dir, args.rows)
    print(f"wrote {', '.join(FOLDERS[t] for t in TASKS)} under {args.out_dir} ({args.rows} train rows, "
          f"{max(1, args.rows // 3)} dev rows per file)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
