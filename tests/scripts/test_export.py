"""Opt-in tier: scripts/export_torchscript.py and scripts/tokenize_jsonl.py on tiny random models, and esrun
fine-tuning the exports (model.name: torchscript).

    ESRUN_EXPORT_PYTHON=.venv-export/bin/python ESRUN_BINARY=build/esrun \\
        python3 -m unittest tests/scripts/test_export.py -v

ESRUN_EXPORT_PYTHON is a Python with torch, timm, transformers, sentencepiece and protobuf (default: the
Python running the tests); without them every test here is skipped with the pip command that installs
them. The training tests also need ESRUN_BINARY, a built esrun whose `esrun list models` has torchscript.
Nothing is downloaded: the models are random-initialised from configs and the data is made up.
"""
import functools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

# script_helpers first: it puts scripts/ on the import path, where esrunpy is.
from script_helpers import ESRUN, SCRIPTS

from esrunpy.common import read_jsonl, registered

EXPORT = os.path.join(SCRIPTS, "export_torchscript.py")
TOKENIZE = os.path.join(SCRIPTS, "tokenize_jsonl.py")
PACKAGES = {"torch": "torch", "timm": "timm", "transformers": "transformers", "sentencepiece": "sentencepiece",
            "google.protobuf": "protobuf"}
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}

TINY_ALBERT = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
               "embedding_size": 32, "vocab_size": 1000, "max_position_embeddings": 64}
TINY_GPT2 = {"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 1000, "n_positions": 64}


def python():
    return os.environ.get("ESRUN_EXPORT_PYTHON") or sys.executable


@functools.lru_cache(maxsize=None)
def missing_packages():
    missing = []
    for module, pip_name in PACKAGES.items():
        try:
            found = subprocess.run([python(), "-c", f"import {module}"], capture_output=True).returncode == 0
        except OSError:
            found = False
        if not found:
            missing.append(pip_name)
    return missing


def require_packages():
    missing = missing_packages()
    if missing:
        raise unittest.SkipTest(
            f"{', '.join(missing)} not importable by {python()} (ESRUN_EXPORT_PYTHON); install with: "
            f"{python()} -m pip install {' '.join(missing)} (torch from https://download.pytorch.org/whl/cpu "
            f"or PyPI)")


@functools.lru_cache(maxsize=None)
def esrun_with_torchscript():
    """The esrun binary, or the reason the training tests cannot run."""
    if not ESRUN:
        return None, "ESRUN_BINARY is not set (the path of a built esrun)"
    try:
        models = [name for name, _ in registered(ESRUN, "models")]
    except (OSError, ValueError) as error:
        return None, f"{ESRUN} cannot list its models: {error}"
    if "torchscript" not in models:
        return None, f"{ESRUN} has no model torchscript (esrun list models)"
    return ESRUN, None


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, env=OFFLINE, **kwargs)


def write_jsonl(path, records):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


class Exports:
    """Exports each tiny model once for all the tests of this file (module-level temporary folder)."""
    folder = None
    done = {}

    @classmethod
    def get(cls, name):
        if cls.folder is None:
            cls.folder = tempfile.mkdtemp(prefix="esrun-export-test-")
        if name not in cls.done:
            out = os.path.join(cls.folder, name)
            arguments = {
                "vit": ["--source", "timm", "--name", "vit_tiny_patch16_224", "--random-init", "--num-classes", "4",
                        "--image-size", "32", "--model-kwargs", '{"patch_size": 4}'],
                "albert": ["--source", "hf", "--name", "albert", "--task", "sequence-classification", "--random-init",
                           "--num-labels", "3", "--config-overrides", json.dumps(TINY_ALBERT), "--max-length", "32"],
                "gpt2": ["--source", "hf", "--name", "gpt2", "--task", "causal-lm", "--random-init",
                         "--config-overrides", json.dumps(TINY_GPT2), "--max-length", "64"],
            }[name]
            result = run([python(), EXPORT, *arguments, "--out", out])
            cls.done[name] = (out, result)
        return cls.done[name]


def tearDownModule():
    if Exports.folder:
        shutil.rmtree(Exports.folder, ignore_errors=True)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def in_export_python(code, *args):
    """Runs code in ESRUN_EXPORT_PYTHON and returns what it printed as JSON."""
    result = run([python(), "-c", code, *args])
    if result.returncode != 0:
        raise AssertionError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


RELOAD = r"""
import json, sys, torch
module = torch.jit.load(sys.argv[1])
names = [a.name for a in module.forward.schema.arguments][1:]
shapes = []
for n, length in [(3, 7), (1, 29)]:
    generator = torch.Generator().manual_seed(n)
    values = {"input_ids": torch.randint(0, 1000, (n, length), generator=generator),
              "attention_mask": torch.ones(n, length, dtype=torch.long),
              "token_type_ids": torch.zeros(n, length, dtype=torch.long)}
    values["attention_mask"][0, length // 2:] = 0
    shapes.append(list(module(*[values[name] for name in names]).shape))
print(json.dumps({"names": names, "shapes": shapes}))
"""


class ExportTinyModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_packages()

    def export(self, name):
        out, result = Exports.get(name)
        self.assertEqual(result.returncode, 0, result.stdout[-3000:] + result.stderr[-3000:])
        self.assertIn("verify", result.stdout)
        return out

    def test_timm_vit_gets_a_model_fragment_with_timms_normalisation(self):
        out = self.export("vit")
        meta = read_json(os.path.join(out, "export.json"))
        self.assertEqual(meta["input_size"], [3, 32, 32])
        self.assertEqual(meta["num_classes"], 4)
        self.assertEqual(meta["last_linear"], {"module": "head", "in_features": 192, "out_features": 4})
        self.assertFalse(meta["needs_libtorch_2"])
        with open(os.path.join(out, "esrun.yaml")) as f:
            text = f.read()
        self.assertIn("name: torchscript", text)
        self.assertIn(f"path: {json.dumps(os.path.join(out, 'model.pt'))}", text)
        self.assertIn(f"mean: {json.dumps(meta['mean'])}", text)

    def test_hf_classifier_takes_esruns_three_inputs_at_any_batch_and_length(self):
        out = self.export("albert")
        meta = read_json(os.path.join(out, "export.json"))
        self.assertEqual(meta["input_names"], ["input_ids", "attention_mask", "token_type_ids"])
        self.assertIsNone(meta["output"])
        self.assertEqual(meta["last_linear"]["module"], "classifier")
        got = in_export_python(RELOAD, os.path.join(out, "model.pt"))
        self.assertEqual(got["names"], ["input_ids", "attention_mask", "token_type_ids"])
        self.assertEqual(got["shapes"], [[3, 3], [1, 3]])

    def test_hf_causal_lm_returns_logits_per_position_and_keeps_its_head(self):
        out = self.export("gpt2")
        meta = read_json(os.path.join(out, "export.json"))
        self.assertEqual(meta["input_names"], ["input_ids", "attention_mask"])
        self.assertEqual(meta["vocab_size"], 1000)
        self.assertEqual(meta["tied_parameters"], [["transformer.wte.weight", "lm_head.weight"]])
        got = in_export_python(RELOAD, os.path.join(out, "model.pt"))
        self.assertEqual(got["shapes"], [[3, 7, 1000], [1, 29, 1000]])
        with open(os.path.join(out, "esrun.yaml")) as f:
            text = f.read()
        self.assertIn("head: none", text)
        self.assertIn("name: causal_lm", text)

    def test_train_mode_reaches_dropout_after_an_eval_mode_trace(self):
        out = self.export("gpt2")  # GPT-2's dropout is 0.1 by default
        code = r"""
import json, sys, torch
m = torch.jit.load(sys.argv[1])
ids = torch.randint(0, 1000, (2, 9)); mask = torch.ones_like(ids)
m.train(); a, b = m(ids, mask), m(ids, mask)
m.eval(); c, d = m(ids, mask), m(ids, mask)
print(json.dumps({"train": (a - b).abs().max().item(), "eval": (c - d).abs().max().item()}))
"""
        got = in_export_python(code, os.path.join(out, "model.pt"))
        self.assertGreater(got["train"], 0)
        self.assertEqual(got["eval"], 0)

    def test_unknown_names_are_bad_input(self):
        with tempfile.TemporaryDirectory() as root:
            result = run([python(), EXPORT, "--source", "timm", "--name", "vit_tiny_patch16_22", "--random-init",
                          "--out", os.path.join(root, "x")])
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("unknown timm model 'vit_tiny_patch16_22'; did you mean vit_tiny_patch16_224", result.stderr)
            self.assertFalse(os.path.exists(os.path.join(root, "x")))
            result = run([python(), EXPORT, "--source", "hf", "--name", "no-such-model-type", "--random-init",
                          "--task", "causal-lm", "--out", os.path.join(root, "y")])
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("no Hugging Face config for 'no-such-model-type'", result.stderr)


MAKE_TOKENIZER = r"""
import json, os, shutil, sys, sentencepiece
from transformers import AlbertTokenizer
fixture, out = sys.argv[1], sys.argv[2]
lines = []
for task in ("SST-2", "RTE"):
    with open(os.path.join(fixture, task, "train.tsv")) as f:
        lines += [field for line in f.read().splitlines()[1:] for field in line.split("\t")[1:3] if " " in field]
model = os.path.join(out, "spm")
os.makedirs(out, exist_ok=True)
sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=model, vocab_size=60,
    pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2)
source = os.path.join(out, "source")
os.makedirs(source, exist_ok=True)
shutil.copy(model + ".model", os.path.join(source, "spiece.model"))
tokenizer = AlbertTokenizer.from_pretrained(source)
tokenizer.save_pretrained(os.path.join(out, "albert"))
print(json.dumps({"size": len(tokenizer)}))
"""


class TokenizeJsonl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_packages()
        cls.root = tempfile.mkdtemp(prefix="esrun-tokenize-test-")
        cls.fixture = os.path.join(cls.root, "glue")
        subprocess.run([sys.executable, os.path.join(SCRIPTS, "make_glue_fixture.py"), cls.fixture], check=True,
                       stdout=subprocess.DEVNULL)
        cls.vocab = in_export_python(MAKE_TOKENIZER, cls.fixture, cls.root)["size"]
        cls.tokenizer = os.path.join(cls.root, "albert")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def tokenize(self, *args):
        out = tempfile.mkdtemp(dir=self.root)
        result = run([python(), TOKENIZE, "--tokenizer", self.tokenizer, "--out", out, *args])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(f"data.tokens_jsonl.vocab_size: {self.vocab}", result.stdout)
        records = {}
        for split in ("train", "test"):
            records[split] = read_jsonl(os.path.join(out, f"{split}.jsonl"))
        with open(os.path.join(out, "esrun.yaml")) as f:
            return records, f.read()

    def test_glue_pairs_get_token_types_labels_in_glue_order_and_the_length_limit(self):
        records, fragment = self.tokenize("--glue-task", "rte", "--glue-root", os.path.join(self.fixture, "RTE"),
                                          "--max-length", "24")
        self.assertEqual((len(records["train"]), len(records["test"])), (96, 32))
        for record in records["train"] + records["test"]:
            self.assertEqual(set(record), {"input_ids", "token_type_ids", "label"})
            self.assertLessEqual(len(record["input_ids"]), 24)
            self.assertEqual(len(record["token_type_ids"]), len(record["input_ids"]))
            self.assertEqual(record["input_ids"][0], 2)  # [CLS], ALBERT's id
            self.assertIn(1, record["token_type_ids"])
            self.assertLess(max(record["input_ids"]), self.vocab)
        with open(os.path.join(self.fixture, "RTE", "dev.tsv")) as f:
            first_label = f.read().splitlines()[1].split("\t")[-1]
        self.assertEqual(records["test"][0]["label"], ["entailment", "not_entailment"].index(first_label))
        self.assertIn("name: tokens_jsonl", fragment)
        self.assertIn(f"vocab_size: {self.vocab}", fragment)

    def test_single_sentences_have_no_token_types(self):
        records, _ = self.tokenize("--glue-task", "cola", "--glue-root", os.path.join(self.fixture, "CoLA"))
        self.assertEqual(set(records["train"][0]), {"input_ids", "label"})
        self.assertEqual({r["label"] for r in records["train"]}, {0, 1})

    def test_stsb_is_refused_as_a_regression(self):
        result = run([python(), TOKENIZE, "--tokenizer", self.tokenizer, "--out", os.path.join(self.root, "stsb"),
                      "--glue-task", "stsb", "--glue-root", os.path.join(self.fixture, "STS-B")])
        self.assertEqual(result.returncode, 2)
        self.assertIn("STS-B is a regression", result.stderr)

    def test_the_vocabulary_is_the_exported_models_when_the_tokenizer_is_an_export_folder(self):
        folder = os.path.join(self.root, "export-like")
        shutil.copytree(self.tokenizer, folder)
        with open(os.path.join(folder, "export.json"), "w") as f:
            json.dump({"vocab_size": self.vocab + 4}, f)
        out = os.path.join(self.root, "padded")
        result = run([python(), TOKENIZE, "--tokenizer", folder, "--out", out, "--glue-task", "cola",
                      "--glue-root", os.path.join(self.fixture, "CoLA")])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"data.tokens_jsonl.vocab_size: {self.vocab + 4}", result.stdout)
        with open(os.path.join(out, "esrun.yaml")) as f:
            self.assertIn(f"vocab_size: {self.vocab + 4}", f.read())

    def test_instructions_mask_the_prompt_and_split_by_seed(self):
        path = os.path.join(self.root, "instructions.jsonl")
        rng = random.Random(3)
        words = ["the", "dog", "sees", "a", "red", "car", "near", "river"]
        write_jsonl(path, [{"prompt": "question: " + " ".join(rng.choices(words, k=4)),
                            "response": " ".join(rng.choices(words, k=3))} for _ in range(40)])
        records, fragment = self.tokenize("--instructions", path, "--test-fraction", "0.25", "--seed", "1")
        self.assertEqual((len(records["train"]), len(records["test"])), (30, 10))
        for record in records["train"] + records["test"]:
            mask = record["loss_mask"]
            self.assertEqual(len(mask), len(record["input_ids"]))
            first = mask.index(1)
            self.assertGreater(first, 0)
            self.assertEqual(mask, [0] * first + [1] * (len(mask) - first))
            self.assertEqual(record["input_ids"][-1], 3)  # ALBERT's eos is [SEP]
        self.assertIn("name: causal_lm", fragment)
        again, _ = self.tokenize("--instructions", path, "--test-fraction", "0.25", "--seed", "1")
        self.assertEqual(again, records)


def base_config(name, data, extra=None):
    config = {"name": name, "seed": 0, "threads": 2, "progress": {"mode": "off"}, "data": data,
              "train": {"epochs": 1, "eval_batch": 64},
              "optimizer": {"name": "adamw", "lr": 1.0e-3, "weight_decay": 0.01}, "schedule": {"name": "constant"},
              "sampler": {"name": "es", "meta_batch": 16, "ratio": 0.25, "anneal_epochs": 0}}
    config.update(extra or {})
    return config


class TorchscriptTraining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_packages()
        cls.binary, reason = esrun_with_torchscript()
        if reason:
            raise unittest.SkipTest(reason)

    def train(self, export, config):
        out, result = Exports.get(export)
        self.assertEqual(result.returncode, 0, result.stdout[-3000:] + result.stderr[-3000:])
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, "config.yaml")
            with open(path, "w") as f:
                json.dump(config, f)  # JSON is YAML
            run_dir = os.path.join(root, "run")
            # The export's own fragment comes second, as a user would pass it.
            result = subprocess.run([self.binary, "--config", path, "--config", os.path.join(out, "esrun.yaml"),
                                     "--out", run_dir], capture_output=True, text=True, timeout=600)
            self.assertEqual(result.returncode, 0, result.stdout[-3000:] + result.stderr[-3000:])
            last = read_jsonl(os.path.join(run_dir, "metrics.jsonl"))[-1]
            self.assertTrue(os.path.exists(os.path.join(run_dir, "summary.json")))
            self.assertIsInstance(last["test_loss"], float)
            self.assertTrue(math.isfinite(last["test_loss"]), last)
            return last

    def test_timm_vit_fine_tunes_on_synthetic_shapes(self):
        self.train("vit", base_config("torchscript_vit", {
            "name": "synthetic_shapes", "synthetic": {"train_size": 128, "test_size": 64, "classes": 4,
                                                      "image_size": 32}}))

    def test_hf_classifier_fine_tunes_on_token_records(self):
        rng = random.Random(0)
        with tempfile.TemporaryDirectory() as data:
            def record():
                first, second = rng.randint(3, 10), rng.randint(3, 10)
                return {"input_ids": [2] + [rng.randrange(5, 1000) for _ in range(first + second)] + [3],
                        "token_type_ids": [0] * (first + 1) + [1] * (second + 1), "label": rng.randrange(3)}
            write_jsonl(os.path.join(data, "train.jsonl"), [record() for _ in range(96)])
            write_jsonl(os.path.join(data, "test.jsonl"), [record() for _ in range(32)])
            self.train("albert", base_config("torchscript_albert", {
                "name": "tokens_jsonl", "root": data, "tokens_jsonl": {"vocab_size": 1000}}))

    def test_hf_causal_lm_fine_tunes_on_masked_token_records(self):
        rng = random.Random(1)
        with tempfile.TemporaryDirectory() as data:
            def record():
                prompt, response = rng.randint(2, 12), rng.randint(2, 12)
                return {"input_ids": [rng.randrange(1, 1000) for _ in range(prompt + response)],
                        "loss_mask": [0] * prompt + [1] * response}
            write_jsonl(os.path.join(data, "train.jsonl"), [record() for _ in range(96)])
            write_jsonl(os.path.join(data, "test.jsonl"), [record() for _ in range(32)])
            self.train("gpt2", base_config("torchscript_gpt2", {
                "name": "tokens_jsonl", "root": data, "tokens_jsonl": {"vocab_size": 1000}},
                {"task": {"name": "causal_lm"}}))


if __name__ == "__main__":
    unittest.main()
