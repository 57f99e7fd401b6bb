#!/usr/bin/env python3
"""Writes esrun `tokens_jsonl` data with a Hugging Face tokenizer: one JSON object per line, no padding.

    # a GLUE task: train.tsv -> train.jsonl, the dev set -> test.jsonl, labels as esrun's glue reader
    python scripts/tokenize_jsonl.py --tokenizer exports/albert-base-v2 --glue-task rte \\
        --glue-root data/glue/RTE --max-length 128 --out data/rte-albert
    # instruction tuning: {"prompt": ..., "response": ...} per line -> ids of prompt + response + eos,
    # loss_mask 0 on the prompt and 1 on the response; a seeded test split
    python scripts/tokenize_jsonl.py --tokenizer exports/gpt2 --instructions alpaca.jsonl \\
        --test-fraction 0.05 --max-length 512 --out data/alpaca-gpt2

Records: {"input_ids": [...], "label": 1} (and "token_type_ids" for sentence pairs when the tokenizer
marks the second sentence) for GLUE; {"input_ids": [...], "loss_mask": [...]} for instructions.
--out gets train.jsonl, test.jsonl and esrun.yaml, a data fragment naming them with
data.tokens_jsonl.vocab_size. For causal_lm esrun checks that the model's logits have exactly that many
entries per position, so the size is the model's vocabulary when --tokenizer is a folder written by
scripts/export_torchscript.py (its export.json; often a little larger than the tokenizer, padded for
speed), else --vocab-size, else the tokenizer's own size. --tokenizer is a hub name or a folder with
tokenizer files.

GLUE layouts (data.glue.task, as esrun's own glue dataset reads them; the dev set is the test split):
  cola  headerless source, label, mark, sentence (or the public CoLA release: in_domain_train.tsv, and
        in_domain_dev.tsv + out_of_domain_dev.tsv as the dev set)       sst2  sentence, label
  mrpc  Quality, #1 String, #2 String     qqp   question1, question2, is_duplicate
  stsb  not here: a regression on a score, and tokens_jsonl labels are classes (esrun's glue reads it)
  mnli  sentence1, sentence2,
        gold_label (the last column; dev_matched.tsv or, with --mnli-dev mismatched, dev_mismatched.tsv)
  qnli  question, sentence, label         rte, wnli  sentence1, sentence2, label
Label order as transformers' GLUE processors: entailment 0, not_entailment 1; MNLI contradiction 0,
entailment 1, neutral 2; the others' labels are already 0/1.

Needs transformers (and sentencepiece + protobuf for SentencePiece tokenizers). Exit codes: 0 written,
2 bad input (a missing file or column, an unknown label, a missing package).
"""
import argparse
import importlib
import json
import os
import random
import sys

# task -> (header?, first column, second column or None, label column ("" = last), label strings in class order)
GLUE = {
    "cola": (False, 3, None, 1, ["0", "1"]),
    "sst2": (True, "sentence", None, "label", ["0", "1"]),
    "mrpc": (True, "#1 String", "#2 String", "Quality", ["0", "1"]),
    "qqp": (True, "question1", "question2", "is_duplicate", ["0", "1"]),
    "mnli": (True, "sentence1", "sentence2", "", ["contradiction", "entailment", "neutral"]),
    "qnli": (True, "question", "sentence", "label", ["entailment", "not_entailment"]),
    "rte": (True, "sentence1", "sentence2", "label", ["entailment", "not_entailment"]),
    "wnli": (True, "sentence1", "sentence2", "label", ["0", "1"]),
}
COLA_COLUMNS = 4
# GLUE's headline metric per task, for esrun's task.metric.
METRICS = {"cola": "mcc", "mrpc": "f1", "qqp": "f1"}


class InputError(Exception):
    """Bad input: reported on stderr, exit code 2."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True,
                        help="a Hugging Face tokenizer: hub name or folder (e.g. an export_torchscript.py folder)")
    parser.add_argument("--out", required=True, help="folder for train.jsonl, test.jsonl and esrun.yaml")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--glue-task", choices=sorted([*GLUE, "stsb"]),
                        help="tokenise a GLUE task's TSVs (needs --glue-root); stsb is refused (a regression)")
    source.add_argument("--instructions", metavar="FILE.jsonl",
                        help="prompt/response records, one JSON object per line, for causal LM fine-tuning")
    parser.add_argument("--glue-root", help="the task's folder of train.tsv and dev.tsv")
    parser.add_argument("--mnli-dev", choices=["matched", "mismatched"], default="matched",
                        help="MNLI's dev set used as the test split (default: matched)")
    parser.add_argument("--max-length", type=int, default=128,
                        help="tokens per record with special tokens; GLUE pairs are truncated longest-first, "
                             "instruction records at the end (default: 128)")
    parser.add_argument("--token-type-ids", choices=["auto", "always", "never"], default="auto",
                        help="write token_type_ids: auto = for sentence pairs when the tokenizer marks the second "
                             "sentence (BERT, ALBERT), never for single sentences (default: auto)")
    parser.add_argument("--test-fraction", type=float, default=0.1,
                        help="instructions: share of the records held out as test.jsonl (default: 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="instructions: seed of the train/test split (default: 0)")
    parser.add_argument("--no-eos", action="store_true", help="instructions: do not end each response with eos")
    parser.add_argument("--vocab-size", type=int,
                        help="data.tokens_jsonl.vocab_size to write (default: the export's vocab_size when "
                             "--tokenizer is an export_torchscript.py folder, else the tokenizer's size)")
    args = parser.parse_args(argv)
    if args.glue_task == "stsb":
        parser.error("--glue-task stsb: STS-B is a regression on a 0-5 score and tokens_jsonl labels are class "
                     "indices; train it with esrun's glue dataset (data.name: glue, data.glue.task: stsb)")
    if args.glue_task and not args.glue_root:
        parser.error("--glue-task needs --glue-root, the task's folder of TSV files")
    if args.instructions and args.glue_root:
        parser.error("--glue-root applies to --glue-task only")
    if not 0 <= args.test_fraction < 1:
        parser.error(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    if args.max_length < 2:
        parser.error(f"--max-length must be at least 2, got {args.max_length}")
    return args


def load_tokenizer(name):
    try:
        transformers = importlib.import_module("transformers")
    except ImportError as error:
        raise InputError(f"transformers is not importable by {sys.executable} ({error}); install it with: "
                         f"{sys.executable} -m pip install transformers sentencepiece protobuf") from None
    try:
        return transformers.AutoTokenizer.from_pretrained(name)
    except Exception as error:  # noqa: BLE001 - offline, no such name, no tokenizer files in the folder
        raise InputError(f"cannot load the tokenizer '{name}': {type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}") from None


# ------------------------------------------------------------------------------------------------- GLUE


def glue_files(task, root, mnli_dev):
    if not os.path.isdir(root):
        raise InputError(f"--glue-root {root}: no such folder")
    train = [os.path.join(root, "train.tsv")]
    test = [os.path.join(root, f"dev_{mnli_dev}.tsv" if task == "mnli" else "dev.tsv")]
    if task == "cola" and not os.path.exists(train[0]) and os.path.exists(os.path.join(root, "in_domain_train.tsv")):
        train = [os.path.join(root, "in_domain_train.tsv")]
        test = [os.path.join(root, "in_domain_dev.tsv"), os.path.join(root, "out_of_domain_dev.tsv")]
    missing = [path for path in train + test if not os.path.isfile(path)]
    if missing:
        raise InputError(f"{', '.join(missing)}: no such file (glue task {task} reads {', '.join(train + test)})")
    return train, test


def read_glue(path, task):
    """Yields (first, second or None, label) per row, checking the layout as esrun's glue reader does."""
    header, first, second, label, classes = GLUE[task]
    needed = COLA_COLUMNS if not header else 0
    with open(path, encoding="utf-8-sig") as f:  # MRPC's files start with a byte-order mark
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip(" \t\r"):
            continue
        fields = line.rstrip("\r").split("\t")
        if header:
            def column(name):
                if name not in fields:
                    raise InputError(f"{path}:{number}: no column '{name}' in the header {fields}; glue task "
                                     f"{task} expects {describe(task)}. Is --glue-task right for this file?")
                return fields.index(name)
            first = column(GLUE[task][1])
            second = column(GLUE[task][2]) if GLUE[task][2] else None
            label = column(GLUE[task][3]) if GLUE[task][3] else len(fields) - 1
            needed, header = len(fields), False
            continue
        if len(fields) < needed:
            raise InputError(f"{path}:{number}: {len(fields)} tab-separated columns, expected {needed} "
                             f"({describe(task)})")
        value = fields[label] if GLUE[task][3] != "" else fields[-1]
        if value not in classes:
            raise InputError(f"{path}:{number}: label '{value}' is not one of {', '.join(classes)} "
                             f"(glue task {task})")
        yield fields[first], fields[second] if second is not None else None, classes.index(value)


def describe(task):
    header, first, second, label, _ = GLUE[task]
    if not header:
        return "no header; columns source, label, mark, sentence"
    return (f"a header with columns {first}{', ' + second if second else ''}, "
            f"{label or 'the label last'} (GLUE's {task} layout)")


def glue_records(tokenizer, files, task, args, stats):
    pair = GLUE[task][2] is not None
    rows = [row for path in files for row in read_glue(path, task)]
    records = []
    for begin in range(0, len(rows), 1000):  # batches: fast tokenizers encode a list much faster than one by one
        chunk = rows[begin:begin + 1000]
        firsts = [row[0] for row in chunk]
        seconds = [row[1] for row in chunk] if pair else None
        encoded = tokenizer(firsts, seconds, truncation="longest_first", max_length=args.max_length,
                            return_token_type_ids=True, return_overflowing_tokens=False, return_length=False)
        whole = tokenizer(firsts, seconds, add_special_tokens=True)["input_ids"]
        for i, (_, _, label) in enumerate(chunk):
            stats["truncated"] += len(whole[i]) > args.max_length
            record = {"input_ids": encoded["input_ids"][i]}
            types = encoded["token_type_ids"][i] if "token_type_ids" in encoded else None
            if types is not None and (args.token_type_ids == "always"
                                      or (args.token_type_ids == "auto" and pair and any(types))):
                record["token_type_ids"] = types
            record["label"] = label
            records.append(record)
    return records


# ---------------------------------------------------------------------------------------- instructions


def read_instructions(path):
    if not os.path.isfile(path):
        raise InputError(f"--instructions {path}: no such file")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not a JSON object ({error})") from None
            if not isinstance(row, dict) or not all(isinstance(row.get(key), str) for key in ("prompt", "response")):
                raise InputError(f"{path}:{number}: expected an object with string fields prompt and response, "
                                 f"got {line.strip()[:120]}")
            rows.append((row["prompt"], row["response"]))
    if not rows:
        raise InputError(f"{path}: no records")
    return rows


def adds_bos(tokenizer):
    """Whether the tokenizer starts a text with its bos token (Llama-style), which then starts the prompt."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    with_special = tokenizer("a")["input_ids"]
    return with_special[:1] == [bos] and tokenizer("a", add_special_tokens=False)["input_ids"][:1] != [bos]


def instruction_records(tokenizer, rows, args, stats):
    """input_ids = [bos] prompt response [eos], loss_mask 1 on the response and eos; truncated at the end.
    Prompt and response are tokenised separately, so no token straddles the boundary."""
    bos = [tokenizer.bos_token_id] if adds_bos(tokenizer) else []
    eos = [] if args.no_eos else [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if not args.no_eos and not eos:
        print("note: the tokenizer has no eos token; responses end without one")
    records = []
    for prompt, response in rows:
        prompt_ids = bos + tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + eos
        ids = (prompt_ids + response_ids)[:args.max_length]
        mask = ([0] * len(prompt_ids) + [1] * len(response_ids))[:args.max_length]
        if len(prompt_ids) + len(response_ids) > args.max_length:
            stats["truncated"] += 1
        if not any(mask):  # the prompt fills --max-length: nothing left to learn from
            stats["dropped"] += 1
            continue
        records.append({"input_ids": ids, "loss_mask": mask})
    return records


def split(records, fraction, seed):
    if fraction == 0:
        return records, []
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    count = min(len(records) - 1, max(1, round(fraction * len(records))))
    test = set(order[:count])
    return ([r for i, r in enumerate(records) if i not in test], [r for i, r in enumerate(records) if i in test])


# ------------------------------------------------------------------------------------------------ output


def write_jsonl(path, records):
    with open(path + ".tmp", "w") as f:
        for record in records:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
    os.replace(path + ".tmp", path)


def vocabulary(args, tokenizer):
    """data.tokens_jsonl.vocab_size and where it comes from."""
    if args.vocab_size is not None:
        return args.vocab_size, f"--vocab-size; the tokenizer has {len(tokenizer)}"
    export = os.path.join(args.tokenizer, "export.json")
    if os.path.isfile(export):
        with open(export) as f:
            model_vocab = json.load(f).get("vocab_size")
        if isinstance(model_vocab, int) and model_vocab >= len(tokenizer):
            return model_vocab, f"the model's vocabulary ({export}); the tokenizer has {len(tokenizer)}"
    return len(tokenizer), "the tokenizer's size"


def esrun_yaml(args, vocab_size):
    source = f"--glue-task {args.glue_task} --glue-root {args.glue_root}" if args.glue_task else \
        f"--instructions {args.instructions}"
    lines = [f"# Written by scripts/tokenize_jsonl.py --tokenizer {args.tokenizer} {source} "
             f"--max-length {args.max_length}",
             "data:",
             "  name: tokens_jsonl",
             f"  root: {json.dumps(os.path.normpath(args.out))}",
             f"  tokens_jsonl: {{train: train.jsonl, test: test.jsonl, vocab_size: {vocab_size}}}"]
    if args.instructions:
        lines += ["task:", "  name: causal_lm"]
    elif args.glue_task in METRICS:
        lines += ["task:", f"  metric: {METRICS[args.glue_task]}   # GLUE's headline metric for {args.glue_task}"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    try:
        tokenizer = load_tokenizer(args.tokenizer)
        stats = {"truncated": 0, "dropped": 0}
        if args.glue_task:
            train_files, test_files = glue_files(args.glue_task, args.glue_root, args.mnli_dev)
            train = glue_records(tokenizer, train_files, args.glue_task, args, stats)
            test = glue_records(tokenizer, test_files, args.glue_task, args, stats)
        else:
            train, test = split(instruction_records(tokenizer, read_instructions(args.instructions), args, stats),
                                args.test_fraction, args.seed)
            if not train:
                raise InputError(f"{args.instructions}: no record keeps a response token within --max-length "
                                 f"{args.max_length}")
    except InputError as error:
        print(f"tokenize_jsonl: {error}", file=sys.stderr)
        return 2
    vocab_size, origin = vocabulary(args, tokenizer)
    largest = max((max(r["input_ids"]) for r in train + test if r["input_ids"]), default=-1)
    if largest >= vocab_size:  # esrun would refuse the file
        print(f"tokenize_jsonl: id {largest} is not below the vocabulary size {vocab_size} ({origin})",
              file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    write_jsonl(os.path.join(args.out, "train.jsonl"), train)
    write_jsonl(os.path.join(args.out, "test.jsonl"), test)
    with open(os.path.join(args.out, "esrun.yaml"), "w") as f:
        f.write(esrun_yaml(args, vocab_size))
    lengths = [len(r["input_ids"]) for r in train + test]
    print(f"wrote {args.out}/train.jsonl ({len(train)} records), test.jsonl ({len(test)}), esrun.yaml; "
          f"tokens per record {min(lengths)}..{max(lengths)} (mean {sum(lengths) / len(lengths):.1f}); "
          f"{stats['truncated']} truncated to {args.max_length}" +
          (f", {stats['dropped']} dropped (the prompt alone fills --max-length)" if stats["dropped"] else ""))
    print(f"data.tokens_jsonl.vocab_size: {vocab_size}   # {origin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
