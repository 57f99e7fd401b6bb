#!/usr/bin/env python3
"""Exports a timm or Hugging Face model as a TorchScript folder that esrun's `model.name: torchscript` reads.

    # an image classifier from timm (pretrained weights are downloaded by timm)
    python scripts/export_torchscript.py --source timm --name vit_large_patch16_224 --pretrained \\
        --num-classes 1000 --out exports/vit_large_patch16_224
    # a text classifier from Hugging Face, with ALBERT's SentencePiece model for esrun's GLUE reader
    python scripts/export_torchscript.py --source hf --name albert-base-v2 --task sequence-classification \\
        --num-labels 2 --out exports/albert-base-v2
    # a tiny random causal LM, offline (a model type instead of a hub name builds its default config)
    python scripts/export_torchscript.py --source hf --name gpt2 --task causal-lm --random-init \\
        --config-overrides '{"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 1000}' --out exports/gpt2-tiny

The folder gets:
  model.pt     torch.jit.save of the traced model in eval mode. Its forward returns the logits tensor itself
               (esrun's model.torchscript.output: null): images forward(x) -> [N, classes];
               text forward(input_ids, attention_mask[, token_type_ids]) -> [N, classes] or [N, L, vocab].
  esrun.yaml   a config fragment: model.* (name torchscript, path, output, head) and data.augment.mean/std
               (images) or data.tokenizer (text, when the tokenizer is a SentencePiece model with [CLS]/[SEP]).
  export.json  metadata: source, name, task, input names, output, classes or vocabulary, versions, parameters.
  spiece.model and the tokenizer's save_pretrained files (text, when a tokenizer is available).

Needs torch, and timm or transformers (plus sentencepiece and protobuf for SentencePiece tokenizers):
    pip install torch timm transformers sentencepiece protobuf
Exit codes: 0 exported and verified; 2 bad input (a package missing, an unknown model name, a download
failure, bad JSON); 1 the reloaded file does not reproduce the eager model's output (nothing is kept).

Why tracing: torch.jit.script cannot compile timm's or transformers' forward functions (keyword
arguments, dataclass outputs, Python-side control flow), so the model is traced. Tracing records one run
of Python, which has two consequences this script handles:
  * Python-side branches on tensor values are frozen. Transformers decides whether an attention mask is
    needed from the mask's values, so the example batch always contains padding: the traced graph then
    applies the mask on every batch, which is also correct for batches without padding. The export is
    checked on other batch sizes and sequence lengths, with and without padding, after reloading.
  * module.training is frozen. Dropout and BatchNorm modules are therefore compiled with torch.jit.script
    before tracing, and the trace calls them, so model.train() / model.eval() in esrun still switch them.
    Functional dropout inside attention code (transformers' eager attention) is traced in eval mode and
    stays off when fine-tuning.
Attention is exported in its eager (matmul + softmax) form by default: aten::scaled_dot_product_attention
only exists from libtorch 2.0, and esrun's Debian flavour links libtorch 1.13. --attention sdpa keeps the
fused kernel (faster on a GPU, the file then needs libtorch >= 2.0).
"""
import argparse
import datetime
import difflib
import importlib
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

TOLERANCE = 1e-4  # max |eager - reloaded| over max(1, max |eager|)


class ExportError(Exception):
    """Bad input or an unusable environment: reported on stderr, exit code 2."""


class VerifyError(Exception):
    """The reloaded TorchScript file does not reproduce the eager model: exit code 1."""


def require(module, pip_name=None):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ExportError(f"{module} is not importable by {sys.executable} ({error}); "
                          f"install it with: {sys.executable} -m pip install {pip_name or module}") from None


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def parse_json(text, option):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ExportError(f"{option}: not valid JSON ({error}): {text}") from None
    if not isinstance(value, dict):
        raise ExportError(f"{option}: expected a JSON object such as '{{\"hidden_size\": 64}}', got {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, choices=["timm", "hf"], help="where the model comes from")
    parser.add_argument("--name", required=True,
                        help="timm: a model name (timm.list_models()); hf: a hub name or a local folder, or with "
                             "--random-init a model type such as bert, albert or gpt2")
    parser.add_argument("--out", required=True, help="folder to write (created; existing files are replaced)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", dest="random_init", action="store_false",
                         help="load the pretrained weights (the default; downloads unless cached)")
    weights.add_argument("--random-init", dest="random_init", action="store_true",
                         help="build the architecture with random weights; downloads nothing for timm names and "
                              "hf model types (a hub name still needs its config.json)")
    parser.set_defaults(random_init=False)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and the example inputs (default: 0)")
    parser.add_argument("--attention", choices=["eager", "sdpa"], default="eager",
                        help="attention form in the file: eager loads in libtorch 1.13 and 2.x, sdpa needs >= 2.0 "
                             "(default: eager)")
    image = parser.add_argument_group("timm (--source timm)")
    image.add_argument("--num-classes", type=int, help="classifier outputs (default: the model's own)")
    image.add_argument("--image-size", type=int,
                       help="square input size; passed to the model as img_size when it takes one (ViTs fix "
                            "their patch grid at export); default: timm's data config")
    image.add_argument("--model-kwargs", default="{}",
                       help="JSON object of extra timm.create_model arguments, e.g. '{\"patch_size\": 4}'")
    text = parser.add_argument_group("Hugging Face (--source hf)")
    text.add_argument("--task", choices=["sequence-classification", "causal-lm"],
                      help="the head: AutoModelForSequenceClassification or AutoModelForCausalLM (required for hf)")
    text.add_argument("--num-labels", type=int, help="sequence-classification outputs (default: the config's)")
    text.add_argument("--config-overrides", default="{}",
                      help="JSON object set on the config before the model is built, e.g. "
                           "'{\"hidden_size\": 64, \"num_hidden_layers\": 2}' for a tiny random model")
    text.add_argument("--max-length", type=int,
                      help="tokens per example written to esrun.yaml's data.tokenizer.max_length "
                           "(default: min(128, the model's maximum positions))")
    text.add_argument("--tokenizer", help="tokenizer to save with the model: a hub name or folder (default: --name)")
    text.add_argument("--no-tokenizer", action="store_true",
                      help="save no tokenizer (a missing one is otherwise an error for pretrained models)")
    args = parser.parse_args(argv)
    if args.source == "hf" and args.task is None:
        parser.error("--source hf needs --task sequence-classification or --task causal-lm")
    given = [flag for flag, value in [("--num-classes", args.num_classes), ("--image-size", args.image_size)]
             if value is not None] if args.source == "hf" else \
        [flag for flag, value in [("--task", args.task), ("--num-labels", args.num_labels),
                                  ("--max-length", args.max_length), ("--tokenizer", args.tokenizer)]
         if value is not None]
    if given:
        parser.error(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to --source {args.source}")
    return args


# ---------------------------------------------------------------------------------------------- tracing


def make_train_switches_live(torch, model):
    """Compiles Dropout and BatchNorm children with torch.jit.script, so the trace calls them and their
    self.training is read at run time instead of being frozen at its export value (eval)."""
    nn = torch.nn
    kinds = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
             nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    compiled, skipped = 0, []
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            if type(child) not in kinds:  # exact types: subclasses (timm's BatchNormAct2d) add behaviour
                continue
            try:
                setattr(parent, name, torch.jit.script(child))
                compiled += 1
            except Exception as error:  # noqa: BLE001 - any compile failure leaves the module traced
                skipped.append(f"{parent_name + '.' if parent_name else ''}{name} ({type(error).__name__})")
    if skipped:
        print(f"note: kept {len(skipped)} module(s) traced, so their train/eval behaviour is fixed at eval: "
              f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    return compiled


def trace(torch, model, example):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # check_trace=False: verify() below checks the reloaded file on other shapes, a stronger test.
        traced = torch.jit.trace(model, example, check_trace=False)
    tracer_warnings = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    if tracer_warnings:
        places = sorted({f"{os.path.basename(w.filename)}:{w.lineno}" for w in tracer_warnings})
        print(f"note: {len(tracer_warnings)} tracer warning(s) at {', '.join(places[:8])}"
              f"{' ...' if len(places) > 8 else ''}: Python values frozen in the trace; the checks on other "
              f"shapes below catch those that matter")
    return traced


def uses_sdpa(traced):
    return "scaled_dot_product_attention" in str(traced.inlined_graph)


def verify(torch, eager, path, cases):
    """Reloads path and compares it with the eager model on each (label, inputs) case; returns the diffs."""
    loaded = torch.jit.load(path)
    loaded.eval()
    results = []
    with torch.no_grad():
        for label, inputs in cases:
            expected = eager(*inputs)
            try:
                got = loaded(*inputs)
            except Exception as error:  # noqa: BLE001 - any failure of the reloaded file is a failed export
                raise VerifyError(f"the reloaded model fails on {label}: {error}") from None
            if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
                raise VerifyError(f"the reloaded model returns {getattr(got, 'shape', type(got).__name__)} on "
                                  f"{label}, the eager model {tuple(expected.shape)}")
            diff = (got - expected).abs().max().item()
            scale = max(1.0, expected.abs().max().item())
            print(f"verify {label}: output {tuple(got.shape)}, max |eager - reloaded| = {diff:.3g} "
                  f"(relative {diff / scale:.3g})")
            if not math.isfinite(diff) or diff / scale > TOLERANCE:
                raise VerifyError(f"on {label} the reloaded model differs from the eager one by {diff:.3g} "
                                  f"(relative {diff / scale:.3g} > {TOLERANCE}); the trace froze something that "
                                  f"depends on the input (see the tracer warnings above)")
            results.append({"case": label, "max_abs_diff": diff, "relative": diff / scale})
    return results


def model_facts(torch, model):
    """Parameter count (shared tensors once), tied parameter names, and the last Linear (esrun's head: auto)."""
    groups = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(parameter), []).append(name)
    unique = {id(p): p for p in model.parameters()}
    last_linear = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            last_linear = {"module": name, "in_features": module.in_features, "out_features": module.out_features}
    return {"parameters": sum(p.numel() for p in unique.values()),
            "tied_parameters": [names for names in groups.values() if len(names) > 1],
            "last_linear": last_linear}


def versions():
    found = {"python": sys.version.split()[0]}
    for module in ("torch", "timm", "transformers", "tokenizers", "sentencepiece"):
        try:
            found[module] = importlib.import_module(module).__version__
        except Exception:  # noqa: BLE001 - absent or broken packages are just not listed
            pass
    return found


# ------------------------------------------------------------------------------------------------- timm


def build_timm(args, torch):
    timm = require("timm")
    if args.attention == "eager":
        # Must precede create_model: timm's attention layers read the flag when they are built.
        try:
            from timm.layers import set_fused_attn
            set_fused_attn(False)
        except ImportError:
            pass  # timm < 0.9 has no fused attention
    if not timm.is_model(args.name):
        close = difflib.get_close_matches(args.name, timm.list_models(), n=5, cutoff=0.6)
        raise ExportError(f"unknown timm model '{args.name}'" +
                          (f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models()"))
    kwargs = parse_json(args.model_kwargs, "--model-kwargs")
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.image_size is not None:
        kwargs["img_size"] = args.image_size
    torch.manual_seed(args.seed)
    try:
        model = timm.create_model(args.name, pretrained=not args.random_init, **kwargs)
    except TypeError as error:
        if "img_size" not in str(error):
            raise ExportError(f"timm.create_model('{args.name}', {kwargs}): {error}") from None
        kwargs.pop("img_size")  # convolutional networks take any size and have no img_size argument
        model = timm.create_model(args.name, pretrained=not args.random_init, **kwargs)
    except Exception as error:  # noqa: BLE001 - downloads fail in many ways; all are bad input here
        hint = "" if args.random_init else " (offline? --random-init builds the architecture without weights)"
        raise ExportError(f"timm.create_model('{args.name}', pretrained={not args.random_init}): "
                          f"{type(error).__name__}: {error}{hint}") from None
    return timm, model.eval()


def export_timm(args, torch, out):
    timm, model = build_timm(args, torch)
    try:
        from timm.data import resolve_data_config
        data_config = resolve_data_config({}, model=model)
    except Exception as error:  # noqa: BLE001 - a model without a data config still exports
        print(f"note: timm has no data config for {args.name} ({error}); using ImageNet's mean and std")
        data_config = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "input_size": (3, 224, 224)}
    size = args.image_size or int(data_config["input_size"][-1])
    compiled = make_train_switches_live(torch, model)
    generator = torch.Generator().manual_seed(args.seed)
    example = torch.randn(2, 3, size, size, generator=generator)
    traced = trace(torch, model, (example,))
    path = os.path.join(out, "model.pt")
    torch.jit.save(traced, path)
    checks = verify(torch, model, path, [
        ("the example batch [2, 3, %d, %d]" % (size, size), (example,)),
        ("another batch size [3, 3, %d, %d]" % (size, size), (torch.randn(3, 3, size, size, generator=generator),)),
    ])
    with torch.no_grad():
        classes = int(model(example[:1]).shape[-1])
    facts = model_facts(torch, model)
    mean = [round(float(v), 6) for v in data_config["mean"]]
    std = [round(float(v), 6) for v in data_config["std"]]
    crop_pct = float(data_config.get("crop_pct") or 0.875)
    metadata = {
        "source": "timm", "name": args.name, "task": "image-classification", "pretrained": not args.random_init,
        "model_kwargs": parse_json(args.model_kwargs, "--model-kwargs"),
        "input_names": ["x"], "input_size": [3, size, size], "output": None, "num_classes": classes,
        "mean": mean, "std": std, "interpolation": data_config.get("interpolation"), "crop_pct": crop_pct,
        "timm_data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in data_config.items()},
        **facts, "scripted_train_switches": compiled, "attention": args.attention,
        "needs_libtorch_2": uses_sdpa(traced), "verification": checks,
    }
    resize = int(math.floor(size / crop_pct))
    yaml_text = esrun_yaml_header(args, out) + [
        f"# Input: 3x{size}x{size} images; the traced graph of a ViT is fixed to this size. timm evaluates with a",
        f"# {data_config.get('interpolation', 'bilinear')} resize to {resize} and a {size} centre crop "
        f"(crop_pct {crop_pct}); for image_folder data:",
        f"#   data: {{image_folder: {{image_size: {size}, resize: {resize}}}}}",
        *model_yaml(out),
        "data:",
        "  augment:",
        f"    mean: {json.dumps(mean)}   # timm's data config, [0,1] pixel scale",
        f"    std: {json.dumps(std)}",
    ]
    return metadata, yaml_text, traced


# ----------------------------------------------------------------------------------------- Hugging Face


def load_hf_config(args, transformers):
    overrides = parse_json(args.config_overrides, "--config-overrides")
    try:
        config = transformers.AutoConfig.from_pretrained(args.name)
    except Exception as error:  # noqa: BLE001 - offline, unknown name or bad folder
        if args.random_init and args.name in transformers.CONFIG_MAPPING:
            print(f"note: no config for '{args.name}' on the hub or on disk; building the default "
                  f"{args.name} config (model type)")
            config = transformers.AutoConfig.for_model(args.name)
        else:
            types = sorted(transformers.CONFIG_MAPPING.keys())
            close = difflib.get_close_matches(args.name, types, n=3, cutoff=0.6)
            if not args.random_init:
                hint = (f"; offline, --random-init with a model type ({', '.join(close or ['bert', 'gpt2'])}) "
                        f"builds a default config")
            else:
                hint = f"; model types like it: {', '.join(close)}" if close else "; not a model type either"
            raise ExportError(f"no Hugging Face config for '{args.name}': {type(error).__name__}: "
                              f"{first_line(error)}{hint}") from None
    known = set(config.to_dict())
    for key, value in overrides.items():
        if key not in known:
            print(f"note: --config-overrides key '{key}' is not in the {config.model_type} config; set anyway")
        setattr(config, key, value)
    if args.task == "sequence-classification" and args.num_labels is not None:
        config.num_labels = args.num_labels
        config.id2label = {i: f"LABEL_{i}" for i in range(args.num_labels)}
        config.label2id = {v: k for k, v in config.id2label.items()}
    config.use_cache = False  # no key/value cache: training and scoring see whole sequences
    return config


def esrun_forward(model, input_names):
    """Gives the model a forward whose arguments are exactly esrun's names and that returns the logits
    tensor, by swapping in a subclass: the parameter names stay the model's own (no wrapper prefix), so
    freeze patterns such as 'albert.embeddings.*' read as in Hugging Face."""
    base = type(model)

    if input_names == ["input_ids", "attention_mask"]:
        def forward(self, input_ids, attention_mask):
            return base.forward(self, input_ids=input_ids, attention_mask=attention_mask, return_dict=True).logits
    else:
        def forward(self, input_ids, attention_mask, token_type_ids):
            return base.forward(self, input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids, return_dict=True).logits
    model.__class__ = type("Esrun" + base.__name__, (base,), {"forward": forward})
    return model


def text_batch(torch, generator, n, length, vocab, names, pad_rows):
    """Random ids with the first pad_rows rows padded (mask 0 and id 0) over their second half."""
    low = min(5, vocab - 1)  # keep clear of the usual special ids where the vocabulary allows
    ids = torch.randint(low, vocab, (n, length), generator=generator)
    mask = torch.ones(n, length, dtype=torch.long)
    for row in range(min(pad_rows, n)):
        mask[row, max(1, length // 2):] = 0
    ids = ids * mask
    types = torch.zeros(n, length, dtype=torch.long)
    types[:, length // 3:] = 1
    types = types * mask
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return tuple(values[name] for name in names)


def find_spiece(tokenizer, name):
    vocab_file = getattr(tokenizer, "vocab_file", None)
    if isinstance(vocab_file, str) and vocab_file.endswith(".model") and os.path.isfile(vocab_file):
        return vocab_file
    if os.path.isdir(name):
        local = os.path.join(name, "spiece.model")
        return local if os.path.isfile(local) else None
    try:  # transformers 5 loads tokenizer.json alone, so the SentencePiece file is fetched on its own
        from huggingface_hub import hf_hub_download
        return hf_hub_download(name, "spiece.model")
    except Exception:  # noqa: BLE001 - the repository has none, or we are offline
        return None


def lowercases(tokenizer):
    for value in (getattr(tokenizer, "do_lower_case", None), tokenizer.init_kwargs.get("do_lower_case")):
        if isinstance(value, bool):
            return value
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and "Lowercase" in str(backend.normalizer)


def spiece_has_cls_sep(path):
    try:
        import sentencepiece
    except ImportError:
        return None
    processor = sentencepiece.SentencePieceProcessor(model_file=path)
    return all(processor.piece_to_id(piece) != processor.unk_id() for piece in ("[CLS]", "[SEP]"))


def save_tokenizer(args, transformers, out):
    """Saves the tokenizer's files; returns facts for export.json and esrun.yaml (None: no tokenizer)."""
    if args.no_tokenizer:
        return None
    name = args.tokenizer or args.name
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    except Exception as error:  # noqa: BLE001 - offline, no tokenizer files, missing sentencepiece
        message = f"no tokenizer for '{name}': {type(error).__name__}: {first_line(error)}"
        if args.random_init:
            print(f"note: {message}; saving none (write tokens_jsonl data with ids below the vocabulary size)")
            return None
        raise ExportError(message + "; --tokenizer names another, --no-tokenizer saves none") from None
    tokenizer.save_pretrained(out)
    facts = {"tokenizer": name, "tokenizer_class": type(tokenizer).__name__, "tokenizer_size": len(tokenizer),
             "lowercase": lowercases(tokenizer), "spiece_model": None,
             "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    spiece = find_spiece(tokenizer, name)
    if spiece:
        shutil.copyfile(spiece, os.path.join(out, "spiece.model"))
        facts["spiece_model"] = "spiece.model"
        facts["spiece_has_cls_sep"] = spiece_has_cls_sep(os.path.join(out, "spiece.model"))
    return facts


def export_hf(args, torch, out):
    transformers = require("transformers")
    config = load_hf_config(args, transformers)
    auto = {"sequence-classification": transformers.AutoModelForSequenceClassification,
            "causal-lm": transformers.AutoModelForCausalLM}[args.task]
    if args.task == "sequence-classification" and getattr(config, "pad_token_id", 0) is None:
        # Decoder classifiers pool the last token that is not padding, found by id; esrun pads with id 0.
        print("note: the config has no pad_token_id; setting 0, the id esrun pads with")
        config.pad_token_id = 0
    torch.manual_seed(args.seed)
    try:
        if args.random_init:
            model = auto.from_config(config, attn_implementation=args.attention)
        else:
            extra = {"ignore_mismatched_sizes": True} if args.task == "sequence-classification" else {}
            model = auto.from_pretrained(args.name, config=config, attn_implementation=args.attention, **extra)
    except ValueError as error:
        raise ExportError(f"{auto.__name__} cannot build '{args.name}' ({config.model_type}): "
                          f"{first_line(error)}") from None
    except Exception as error:  # noqa: BLE001 - downloads fail in many ways
        raise ExportError(f"{auto.__name__}.from_pretrained('{args.name}'): {type(error).__name__}: "
                          f"{first_line(error)}") from None
    model.eval()
    accepted = inspect.signature(type(model).forward).parameters
    input_names = ["input_ids", "attention_mask"]
    if (args.task == "sequence-classification" and "token_type_ids" in accepted
            and getattr(config, "type_vocab_size", 2) > 1):
        input_names.append("token_type_ids")
    esrun_forward(model, input_names)
    compiled = make_train_switches_live(torch, model)

    positions = next((getattr(config, key) for key in ("max_position_embeddings", "n_positions", "max_seq_len")
                      if isinstance(getattr(config, key, None), int)), None)
    max_length = args.max_length or min(128, positions or 128)
    if positions and max_length > positions:
        raise ExportError(f"--max-length {max_length} exceeds the model's {positions} positions")
    vocab = int(config.vocab_size)
    generator = torch.Generator().manual_seed(args.seed)
    example_length = min(16, max_length)
    # Padding in the example is what makes the traced graph apply the attention mask (see the top).
    example = text_batch(torch, generator, 2, example_length, vocab, input_names, pad_rows=1)
    traced = trace(torch, model, example)
    path = os.path.join(out, "model.pt")
    torch.jit.save(traced, path)
    other_length = example_length + 7 if example_length + 7 <= max_length else max(2, example_length - 5)
    checks = verify(torch, model, path, [
        (f"the example batch [2, {example_length}]", example),
        (f"[3, {other_length}] with padding", text_batch(torch, generator, 3, other_length, vocab, input_names, 2)),
        (f"[4, {max(2, example_length // 2)}] without padding",
         text_batch(torch, generator, 4, max(2, example_length // 2), vocab, input_names, 0)),
        (f"[1, {max_length}] (--max-length)", text_batch(torch, generator, 1, max_length, vocab, input_names, 0)),
    ])
    tokenizer = save_tokenizer(args, transformers, out)
    facts = model_facts(torch, model)
    classes = int(config.num_labels) if args.task == "sequence-classification" else None
    metadata = {
        "source": "hf", "name": args.name, "task": args.task, "pretrained": not args.random_init,
        "model_type": config.model_type, "config_overrides": parse_json(args.config_overrides, "--config-overrides"),
        "input_names": input_names, "output": None, "num_classes": classes, "vocab_size": vocab,
        "max_position_embeddings": positions, "max_length": max_length,
        **facts, "scripted_train_switches": compiled, "attention": args.attention,
        "needs_libtorch_2": uses_sdpa(traced), "verification": checks, "tokenizer": tokenizer,
    }
    yaml_text = esrun_yaml_header(args, out) + [
        f"# forward({', '.join(input_names)}) -> "
        + (f"[N, {classes}] logits" if classes else f"[N, L, {vocab}] logits (esrun shifts: position t predicts t+1)"),
        *model_yaml(out, "none" if args.task == "causal-lm" else "auto"),
    ]
    if args.task == "causal-lm":
        yaml_text += ["task:", "  name: causal_lm",
                      "# data: tokens_jsonl records (scripts/tokenize_jsonl.py --tokenizer this folder) with "
                      f"data.tokens_jsonl.vocab_size: {vocab},",
                      f"# the size of the logits esrun checks; at most {positions} tokens per record"]
    elif tokenizer and tokenizer["spiece_model"] and tokenizer.get("spiece_has_cls_sep") is not False:
        yaml_text += ["data:", "  tokenizer:", f"    model: {json.dumps(os.path.join(out, 'spiece.model'))}",
                      f"    lowercase: {'true' if tokenizer['lowercase'] else 'false'}",
                      f"    max_length: {max_length}"]
    elif tokenizer is None:
        yaml_text += ["# No tokenizer was saved: write tokens_jsonl data (scripts/tokenize_jsonl.py) with ids "
                      f"< {vocab}"]
    else:
        yaml_text += ["# The tokenizer is not a SentencePiece model with [CLS]/[SEP] that esrun's glue reader can use:",
                      "# write tokens_jsonl data with scripts/tokenize_jsonl.py --tokenizer " + out]
    return metadata, yaml_text, traced


# ------------------------------------------------------------------------------------------------ files


def esrun_yaml_header(args, out):
    weights = "random weights" if args.random_init else "pretrained"
    return [f"# Written by scripts/export_torchscript.py on {datetime.date.today().isoformat()}: "
            f"{args.source} {args.name} ({weights}).",
            f"# Paths are as given to --out ({out}), relative to the folder the export ran in."]


def model_yaml(out, head="auto"):
    why = {"auto": "replaces the last Linear when the run's classes differ",
           "none": "keeps the language-model head (a new one would forget the pretrained vocabulary)"}[head]
    return ["model:",
            "  name: torchscript",
            "  torchscript:",
            f"    path: {json.dumps(os.path.join(out, 'model.pt'))}",
            "    output: null   # forward returns the logits tensor itself",
            f"    head: {head}     # {why}"]


def main(argv=None):
    args = parse_args(argv)
    out = os.path.normpath(args.out)
    created = not os.path.exists(out)
    try:
        torch = require("torch")
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as staging:
            # Everything is written to staging first, so a failed export leaves no model.pt behind.
            exporter = export_timm if args.source == "timm" else export_hf
            metadata, yaml_lines, _ = exporter(args, torch, staging)
            yaml_lines = [line.replace(staging, out) for line in yaml_lines]
            metadata = {**metadata, "versions": versions(), "exported": datetime.datetime.now().isoformat(
                timespec="seconds"), "command": sys.argv[1:] if argv is None else list(argv)}
            with open(os.path.join(staging, "export.json"), "w") as f:
                json.dump(metadata, f, indent=2)
                f.write("\n")
            with open(os.path.join(staging, "esrun.yaml"), "w") as f:
                f.write("\n".join(yaml_lines) + "\n")
            for name in os.listdir(staging):
                os.replace(os.path.join(staging, name), os.path.join(out, name))
    except (ExportError, VerifyError) as error:
        if created and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)
        failed = isinstance(error, VerifyError)
        print(f"export_torchscript: {'verification failed: ' if failed else ''}{error}", file=sys.stderr)
        return 1 if failed else 2
    print(f"wrote {out}/model.pt ({metadata['parameters']:,} parameters), esrun.yaml, export.json")
    if metadata["tied_parameters"]:
        print(f"note: tied parameters {metadata['tied_parameters']} are one tensor in the file")
    if metadata["needs_libtorch_2"]:
        print("note: the file uses aten::scaled_dot_product_attention and needs libtorch >= 2.0 "
              "(not esrun's Debian flavour, libtorch 1.13)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
