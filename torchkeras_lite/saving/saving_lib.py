"""Keras 3's files: ``.keras`` archives and ``.weights.h5`` weight files, read and written here.

A ``.keras`` file is a zip archive with ``metadata.json``, ``config.json`` (the model in Keras
3's config format, see :mod:`.serialization_lib`) and ``model.weights.h5``. The HDF5 file holds
one group per object in Keras's layout, which real Keras reads and writes:

- ``vars`` (the model's own variables, none), ``layers/<name>/vars/0, 1, ...`` for each layer,
  where ``<name>`` is the snake-cased *class* name made unique within the list (``dense``,
  ``dense_1``...), not the layer's name; nested models continue with ``layers/<name>/layers/...``;
  sublayers held in attributes sit under the attribute name (``forward_layer``, ``query_dense``);
  recurrent layers keep their weights in ``cell/vars``.
- ``optimizer/vars/0, 1, ...``: ``iteration``, ``learning_rate`` (when it is a number), then
  the optimizer's slots per trainable weight in Keras's order (see :func:`_slot_layout`).

Who owns what: :func:`_weight_groups` maps a model's weights to those paths (both directions);
:func:`_optimizer_variables` maps our torch optimizer state to Keras's slot variables;
:func:`save_model` / :func:`load_model` / :func:`save_weights` / :func:`load_weights` do the file
work, always writing through :func:`~.atomic.atomic_write` and naming the file in every error.
Loading reads JSON and numeric HDF5 datasets only: nothing is unpickled or executed.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import re
import warnings
import zipfile
import zlib
from typing import Any, Iterator

import numpy as np
import torch

from .atomic import atomic_write
from . import serialization_lib

KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose file format is written
_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
_BOMB_FLOOR = 1 << 32  # like Keras: members declaring > 4 GiB at > 100x their stored size
_BOMB_RATIO = 100


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading weights needs h5py: pip install h5py") from e
    return h5py


# ------------------------------------------------------------------------- weight layout
def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique(name: str, used: dict[str, int]) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _own_weights(layer: Any) -> list[torch.nn.Parameter]:
    """A layer's own weights in Keras's saving order: trainable ones, then the others (in
    creation order within each)."""
    frozen = layer._frozen_names()
    names = ([n for n in layer._weight_names if n not in frozen]
             + [n for n in layer._weight_names if n in frozen])
    return [getattr(layer, n) for n in names]


class _Group:
    """One object's ``vars`` group: where it is, the object, and its weights in order."""

    __slots__ = ("path", "name", "layer", "weights")

    def __init__(self, path: str, name: str, layer: Any, weights: list) -> None:
        self.path = path
        self.name = name
        self.layer = layer
        self.weights = weights

    @property
    def vars_path(self) -> str:
        return _join(self.path, "vars")


def _weight_groups(layer: Any, path: str = "", visited: set | None = None) -> Iterator[_Group]:
    """Every ``vars`` group of ``layer`` and its sublayers, in Keras's layout.

    Keras visits an object's own variables, then (for Sequential and functional models) its
    ``layers``, then its attributes in sorted order (private ones last); a sublayer reached
    twice is saved where it was reached first. Lists of layers (``layers`` of a model, list
    attributes) name their items by snake-cased class name, made unique.
    """
    from ..layers.recurrent import _RNN

    visited = set() if visited is None else visited
    if id(layer) in visited:
        return
    visited.add(id(layer))
    own = _own_weights(layer)
    if isinstance(layer, _RNN):
        yield _Group(path, layer.name, layer, [])
        yield _Group(_join(path, "cell"), f"{_snake_case(type(layer).__name__)}_cell",
                     layer, own)
    else:
        yield _Group(path, layer.name, layer, own)
    for attr, child in _children(layer):
        if isinstance(child, list):
            used: dict[str, int] = {}
            for sub in child:
                name = _unique(_snake_case(type(sub).__name__), used)
                yield from _weight_groups(sub, _join(path, attr, name), visited)
        else:
            yield from _weight_groups(child, _join(path, attr), visited)


def _children(layer: Any) -> list[tuple[str, Any]]:
    """``(attribute, sublayer or list of sublayers)`` in the order Keras visits them."""
    from ..layers.layer import Layer
    from ..models.functional import Functional
    from ..models.model import Model
    from ..models.sequential import Sequential

    if isinstance(layer, (Sequential, Functional)):
        return [("layers", list(layer.layers))]
    found: list[tuple[str, Any]] = []
    for attr, child in layer.named_children():
        if isinstance(child, Layer):
            found.append((attr, child))
        elif isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)):
            items = child.values() if isinstance(child, torch.nn.ModuleDict) else child
            found.append((attr, [m for m in items if isinstance(m, Layer)]))
    if isinstance(layer, Model):  # a subclassed model: Keras also walks its ``layers`` list
        found.append(("layers", list(layer._sublayers())))
    return sorted(found, key=lambda item: "~" + item[0] if item[0].startswith("_") else item[0])


def _check_weights_covered(model: Any, groups: list[_Group]) -> None:
    saved = {id(w) for g in groups for w in g.weights}
    missing = [name for name, p in model.named_parameters() if id(p) not in saved]
    if missing:
        raise ValueError(
            f"Model {model.name!r} has parameters outside Keras's weight layout: {missing}. "
            "Create weights in layers with add_weight() (plain torch Parameters and modules "
            "cannot be saved in the .keras/.weights.h5 format; torch.save(model.state_dict()) "
            "can save them)."
        )


# ---------------------------------------------------------------------- optimizer layout
def _slot_layout(optimizer: Any) -> list[tuple[str, ...]]:
    """Keras's slot variables as blocks: each block is one pass over the trainable weights,
    creating the named slots of each weight in turn (Adam interleaves momentum and velocity
    per weight; RMSprop makes all velocities, then all momentums)."""
    from .. import optimizers as O

    blocks: list[tuple[str, ...]] = []
    if optimizer.use_ema:
        blocks.append(("average",))
    if optimizer.gradient_accumulation_steps:
        blocks.append(("gradient_accumulator",))
    if isinstance(optimizer, O.Adam):
        blocks.append(("exp_avg", "exp_avg_sq"))
        if optimizer.amsgrad:
            blocks.append(("max_exp_avg_sq",))
    elif isinstance(optimizer, O.SGD):
        if optimizer.momentum != 0:
            blocks.append(("momentum",))
    elif isinstance(optimizer, O.RMSprop):
        blocks.append(("velocity",))
        if optimizer.momentum > 0:
            blocks.append(("momentum",))
        if optimizer.centered:
            blocks.append(("average_gradient",))
    elif isinstance(optimizer, O.Adagrad):
        blocks.append(("accumulator",))
    elif isinstance(optimizer, (O.Adadelta, O.Adamax, O.Nadam)):
        blocks.append(tuple(optimizer._active_state_names()))
    else:
        blocks.extend((name,) for name in optimizer._active_state_names())
    return blocks


def _optimizer_params(model: Any, optimizer: Any) -> list[torch.nn.Parameter]:
    """The optimizer's parameters in Keras's order (the model's trainable weights)."""
    bound = {id(p) for p in optimizer._all_params()}
    ordered = [w for w in model.weights if id(w) in bound]
    if len(ordered) != len(bound):
        raise ValueError(
            f"The optimizer of model {model.name!r} updates {len(bound) - len(ordered)} "
            "parameter(s) that are not among model.weights, so its state cannot be saved in "
            "Keras's layout. Create weights in layers with add_weight()."
        )
    return ordered


class _OptimizerVariable:
    """One entry of Keras's optimizer variable list and where it lives in ours."""

    __slots__ = ("what", "param", "slot")

    def __init__(self, what: str, param: Any = None, slot: str | None = None) -> None:
        self.what = what  # 'iterations', 'learning_rate', 'slot' or 'u_product'
        self.param = param
        self.slot = slot

    def describe(self) -> str:
        if self.what != "slot":
            return self.what
        return f"{self.slot} of a weight of shape {tuple(self.param.shape)}"


def _optimizer_variables(model: Any, optimizer: Any) -> list[_OptimizerVariable]:
    from .. import optimizers as O

    out = [_OptimizerVariable("iterations")]
    if isinstance(optimizer._learning_rate, float):
        out.append(_OptimizerVariable("learning_rate"))
    if not optimizer.built:
        return out
    params = _optimizer_params(model, optimizer)
    for block in _slot_layout(optimizer):
        out.extend(_OptimizerVariable("slot", p, name) for p in params for name in block)
    if isinstance(optimizer, O.Nadam):
        out.append(_OptimizerVariable("u_product"))
    return out


def _read_optimizer_variable(optimizer: Any, var: _OptimizerVariable) -> np.ndarray:
    if var.what == "iterations":
        return np.asarray(optimizer._iterations, dtype=np.int32)
    if var.what == "learning_rate":
        return np.asarray(optimizer.learning_rate, dtype=np.float32)
    if var.what == "u_product":
        return np.asarray(optimizer._u_product, dtype=np.float32)
    return optimizer.state[var.param][var.slot].detach().cpu().numpy()


def _expected_shape(var: _OptimizerVariable) -> tuple:
    return tuple(var.param.shape) if var.what == "slot" else ()


def _write_optimizer_variable(optimizer: Any, var: _OptimizerVariable, value: np.ndarray) -> None:
    if var.what == "iterations":
        optimizer._iterations = int(value)
    elif var.what == "learning_rate":
        optimizer.learning_rate = float(value)
    elif var.what == "u_product":
        optimizer._u_product = float(value)
        optimizer._u_product_step = optimizer.iterations
    else:
        state = optimizer.state[var.param][var.slot]
        with torch.no_grad():
            state.copy_(torch.as_tensor(value).to(dtype=state.dtype))


def _usable_optimizer(model: Any) -> Any:
    from ..optimizers import Optimizer

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    if not isinstance(optimizer, Optimizer):
        warnings.warn(
            f"The optimizer {type(optimizer).__name__} is not a torchkeras_lite optimizer, so "
            "its state is not written in Keras's layout; save it with "
            "torch.save(model.optimizer.state_dict(), ...).", stacklevel=3)
        return None
    return optimizer


# ------------------------------------------------------------------------ HDF5 weights
def _write_h5(model: Any, target: Any, include_optimizer: bool = True) -> None:
    """Write the model's weights (and optimizer state) to ``target`` (a path or file object)."""
    h5py = _h5py()
    groups = list(_weight_groups(model))
    _check_weights_covered(model, groups)
    with h5py.File(target, "w") as f:
        for group in groups:
            g = f.require_group(group.vars_path)
            g.attrs["name"] = group.name
            for i, w in enumerate(group.weights):
                g[str(i)] = w.detach().cpu().numpy()
        optimizer = _usable_optimizer(model) if include_optimizer else None
        if optimizer is not None:
            g = f.require_group("optimizer/vars")
            g.attrs["name"] = optimizer.name
            for i, var in enumerate(_optimizer_variables(model, optimizer)):
                g[str(i)] = _read_optimizer_variable(optimizer, var)


def _datasets(group: Any, source: str, path: str) -> list[np.ndarray]:
    """The numbered datasets ``0..n-1`` of an HDF5 group, as arrays."""
    h5py = _h5py()
    keys = list(group.keys())
    expected = [str(i) for i in range(len(keys))]
    if sorted(keys) != sorted(expected) or any(not isinstance(group[k], h5py.Dataset)
                                               for k in keys):
        raise ValueError(
            f"{source}: group {path!r} should hold datasets named 0..{len(keys) - 1}, "
            f"found {sorted(keys)}. The file was not written in Keras's weights layout."
        )
    values = []
    for k in expected:
        dataset = group[k]
        if dataset.attrs.get("dtype") == "bfloat16":
            raise ValueError(f"{source}: {path}/{k} is stored as bfloat16, which is not "
                             "supported; save the model in float32.")
        try:
            values.append(np.asarray(dataset[()]))
        except (OSError, RuntimeError) as e:
            raise ValueError(f"{source}: cannot read {path}/{k} ({e}); the file is truncated "
                             "or corrupt.") from None
    return values


def _all_dataset_paths(f: Any) -> set[str]:
    h5py = _h5py()
    paths: set[str] = set()
    f.visititems(lambda name, obj: paths.add(name) if isinstance(obj, h5py.Dataset) else None)
    return paths


def _load_h5(model: Any, f: Any, source: str, *, load_optimizer: bool,
             skip_mismatch: bool = False) -> None:
    """Copy the weights in an open HDF5 file into ``model`` (checking everything first)."""
    groups = list(_weight_groups(model))
    pending: list[tuple[Any, np.ndarray]] = []
    consumed: set[str] = set()
    problems: list[str] = []
    for group in groups:
        if not group.weights:
            continue
        layer = f"layer {group.layer.name!r} ({type(group.layer).__name__})"
        if group.vars_path not in f:
            problems.append(
                f"{layer} has {len(group.weights)} weight(s) but the file has no group "
                f"{group.vars_path!r}")
            continue
        values = _datasets(f[group.vars_path], source, group.vars_path)
        consumed.update(f"{group.vars_path}/{i}" for i in range(len(values)))
        if len(values) != len(group.weights):
            problems.append(
                f"{layer} has {len(group.weights)} weight(s) of shapes "
                f"{[tuple(w.shape) for w in group.weights]}, the file has {len(values)} at "
                f"{group.vars_path!r} with shapes {[v.shape for v in values]}")
            continue
        mismatched = [(i, tuple(w.shape), v.shape) for i, (w, v)
                      in enumerate(zip(group.weights, values)) if tuple(w.shape) != v.shape]
        if mismatched:
            problems.extend(
                f"{layer}: weight {i} has shape {ours} in the model but {theirs} in the file "
                f"({group.vars_path}/{i})" for i, ours, theirs in mismatched)
            continue
        pending.extend(zip(group.weights, values))
    leftover = sorted(p for p in _all_dataset_paths(f) - consumed
                      if not p.startswith("optimizer/"))
    if leftover:
        problems.append(f"the file holds weights the model has no place for: {leftover}")
    if problems:
        message = (f"{source} does not fit model {model.name!r}:\n  - " + "\n  - ".join(problems)
                   + "\nThe file was saved from a different architecture.")
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message + " Mismatched weights were skipped (skip_mismatch=True).",
                      stacklevel=3)
    optimizer_values = None
    if load_optimizer and "optimizer/vars" in f:
        optimizer_values = _optimizer_values(model, f["optimizer/vars"], source)
    with torch.no_grad():
        for param, value in pending:
            param.copy_(torch.as_tensor(value).to(dtype=param.dtype))
    if optimizer_values is not None:
        for var, value in optimizer_values:
            _write_optimizer_variable(model.optimizer, var, value)


def _optimizer_values(model: Any, group: Any, source: str) -> list | None:
    """The saved optimizer variables matched with ours (checked), or None (with a warning,
    as Keras does) when they cannot be restored into this optimizer."""
    optimizer = _usable_optimizer(model)
    if optimizer is None:
        return None
    values = _datasets(group, source, "optimizer/vars")
    if not optimizer.built:
        warnings.warn(
            f"{source}: the optimizer state was not loaded because {optimizer.name!r} has not "
            "been built yet (as in Keras). Load with load_model(), or train one step before "
            "load_weights(), to restore it.", stacklevel=5)
        return None
    variables = _optimizer_variables(model, optimizer)
    base = [v for v in variables if v.what in ("iterations", "learning_rate")]
    if len(values) == len(base) < len(variables):
        # Saved before the optimizer was built: its slots were at their initial values, as
        # ours are now, so only the counter and learning rate need restoring.
        variables = base
    if len(values) != len(variables):
        warnings.warn(
            f"{source}: the optimizer state was not loaded: optimizer {optimizer.name!r} has "
            f"{len(variables)} variables, the file has {len(values)} (saved with other "
            "settings, such as amsgrad or momentum, or by another optimizer).", stacklevel=5)
        return None
    for i, (var, value) in enumerate(zip(variables, values)):
        if tuple(value.shape) != _expected_shape(var):
            raise ValueError(
                f"{source}: optimizer variable {i} ({var.describe()}) has shape "
                f"{tuple(value.shape)} in the file; expected {_expected_shape(var)}.")
    return list(zip(variables, values))


def _open_h5(data: Any, source: str) -> Any:
    h5py = _h5py()
    try:
        return h5py.File(data, "r")
    except (OSError, ValueError) as e:
        raise ValueError(
            f"{source} is not a readable HDF5 weights file ({e}). It is truncated or corrupt, "
            "or not a weights file."
        ) from None


# --------------------------------------------------------------------------- archives
def _check_suffix(filepath: Any, suffix: str, argument: str, fix: str) -> str:
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a path (str or os.PathLike), got "
                        f"{type(filepath).__name__}.")
    path = os.fspath(filepath)
    if not path.endswith(suffix):
        raise ValueError(f"{argument} must end in {suffix!r}, got {path!r}. {fix}")
    return path


def _check_overwrite(path: str, overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            f"{path!r} already exists; pass overwrite=True to replace it."
        )


def save_model(model: Any, filepath: "str | os.PathLike", overwrite: bool = True) -> None:
    """Save ``model`` as a Keras 3 ``.keras`` file (config, weights and optimizer state).

    The file opens in real Keras 3 (``keras.saving.load_model``) for every layer both have.
    The write is atomic: a crash leaves any previous file intact.

    Args:
        model: the model to save (Sequential, Functional or a subclassed model with
            ``get_config``).
        filepath: path ending in ``.keras``.
        overwrite: replace an existing file (default True); False raises FileExistsError.

    Example:
        >>> save_model(model, "tutorial.keras")
    """
    path = _check_suffix(filepath, ".keras", "filepath",
                         "Use save_weights() for '.weights.h5' files.")
    _check_overwrite(path, overwrite)
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} has not been built yet, so it has no weights to save. "
            "Call it on data, fit it, or call build(input_shape) first."
        )
    _check_rebuildable(model)
    config = serialization_lib.serialize_model(model, include_compile=True)
    config_json = json.dumps(config)
    metadata_json = json.dumps({
        "keras_version": KERAS_FORMAT_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "saved_by": "torchkeras_lite",
    })
    weights = io.BytesIO()
    _write_h5(model, weights)
    with atomic_write(path) as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr(_METADATA, metadata_json)
            archive.writestr(_CONFIG, config_json)
            archive.writestr(_WEIGHTS, weights.getvalue())


def _check_rebuildable(model: Any) -> None:
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    if isinstance(model, (Sequential, Functional)):
        return
    if getattr(model, "_saved_input_shape", None) is None:
        raise ValueError(
            f"Model {model.name!r} is a subclassed model ({type(model).__name__}) whose input "
            "shape is unknown, so a loader could not rebuild it from a .keras file. Save its "
            "weights with model.save_weights('name.weights.h5') and rebuild the model in code, "
            "or write it as a Sequential or functional model."
        )


def _read_member(archive: zipfile.ZipFile, name: str, source: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(
            f"{source} is not a complete .keras file: it has no {name!r} (members: "
            f"{archive.namelist()})."
        ) from None
    if info.file_size > _BOMB_FLOOR and info.file_size > _BOMB_RATIO * info.compress_size:
        raise ValueError(f"{source}: member {name!r} declares {info.file_size} bytes but "
                         f"stores {info.compress_size}; refusing a likely decompression bomb.")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ValueError(f"{source}: cannot read {name!r} from the archive ({e}); the file is "
                         "truncated or corrupt.") from None


def _open_archive(path: str) -> zipfile.ZipFile:
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}.")
    try:
        return zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(
            f"{path!r} is not a valid .keras file: {e}. A .keras file is a zip archive; this "
            "one is truncated or corrupt (re-save it, or check how it was copied)."
        ) from None


def load_model(filepath: "str | os.PathLike", custom_objects: dict | None = None,
               compile: bool = True, safe_mode: bool = True) -> Any:
    """Load a ``.keras`` file written by torchkeras_lite or by real Keras 3.

    The model is rebuilt from its config, its weights are loaded, and (with ``compile``) it is
    compiled as it was saved and the optimizer state restored, so training resumes where it
    stopped.

    Args:
        filepath: path ending in ``.keras``.
        custom_objects: ``name -> class or function`` for user layers, losses, metrics...
            (by class name or registered name). Default None.
        compile: compile the model from the saved ``compile_config`` (default True).
        safe_mode: refuse stored lambdas (default True); loading never runs stored code, so
            they are refused with False as well.

    Returns:
        The model.

    Example:
        >>> model = load_model("tutorial.keras")
        >>> model.predict(x)
    """
    path = _check_suffix(filepath, ".keras", "filepath",
                         "Legacy Keras 2 '.h5' model files are not supported: load the model "
                         "in Keras and re-save it with model.save('name.keras').")
    source = repr(path)
    with _open_archive(path) as archive:
        config_bytes = _read_member(archive, _CONFIG, source)
        weights_bytes = _read_member(archive, _WEIGHTS, source)
    try:
        config = json.loads(config_bytes)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{source}: config.json is not valid JSON ({e}); the file is corrupt."
                         ) from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{source}: config.json does not describe a model (no class_name).")
    model = serialization_lib.deserialize_keras_object(
        config, custom_objects, safe_mode, kind="model", source=source)
    from ..models.model import Model

    if not isinstance(model, Model):
        raise ValueError(f"{source} holds a {type(model).__name__}, not a model.")
    compile_config = config.get("compile_config") if compile else None
    if compile_config:
        _compile_from_config(model, compile_config, custom_objects, source)
    with _open_h5(io.BytesIO(weights_bytes), f"{source} (model.weights.h5)") as f:
        _load_h5(model, f, f"{source} (model.weights.h5)", load_optimizer=compile)
    return model


def _compile_from_config(model: Any, compile_config: dict, custom_objects: dict | None,
                         source: str) -> None:
    try:
        kwargs = serialization_lib.compile_arguments(compile_config, custom_objects, source)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{e} (This is in the model's compile settings: load_model(..., "
                      "compile=False) loads the model without them.)") from None
    if kwargs["loss"] is None:
        warnings.warn(f"{source}: the model was compiled without a loss; it is loaded "
                      "uncompiled (call compile() before training).", stacklevel=3)
        return
    try:
        model.compile(**kwargs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{source}: cannot compile the loaded model: {e} (load_model(..., "
                      "compile=False) loads it without its compile settings.)") from None
    optimizer = model.optimizer
    if model.built and not getattr(optimizer, "built", True):
        # As Keras's compile_from_config does, so that the saved state has a place to go;
        # the same parameter list the first fit() would bind.
        optimizer.build([p for p in model.parameters() if p.requires_grad])


def save_weights(model: Any, filepath: "str | os.PathLike", overwrite: bool = True) -> None:
    """Save the weights (and optimizer state, as Keras does) to a ``.weights.h5`` file in
    Keras's layout; atomic. See :meth:`Model.save_weights`."""
    path = _check_suffix(filepath, ".weights.h5", "filepath",
                         "Keras requires this suffix, e.g. 'model.weights.h5'.")
    _check_overwrite(path, overwrite)
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} has not been built yet, so it has no weights to save. "
            "Call it on data, fit it, or call build(input_shape) first."
        )
    with atomic_write(path) as tmp:
        _write_h5(model, tmp)


def load_weights(model: Any, filepath: "str | os.PathLike", skip_mismatch: bool = False) -> None:
    """Load weights from a ``.weights.h5`` file or a ``.keras`` archive (ours or Keras's).
    See :meth:`Model.load_weights`."""
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"filepath must be a path, got {type(filepath).__name__}.")
    path = os.fspath(filepath)
    if not (path.endswith(".weights.h5") or path.endswith(".keras")):
        hint = (" Legacy Keras 2 '.h5' weight files are not supported: load them in Keras and "
                "re-save with model.save_weights('name.weights.h5')."
                if path.endswith(".h5") else "")
        raise ValueError(
            f"filepath must end in '.weights.h5' (or '.keras'), got {path!r}.{hint}")
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} has not been built yet, so it has no weights to load into. "
            "Call it on data or call build(input_shape) first."
        )
    source = repr(path)
    if path.endswith(".keras"):
        with _open_archive(path) as archive:
            data: Any = io.BytesIO(_read_member(archive, _WEIGHTS, source))
        source = f"{source} (model.weights.h5)"
    else:
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: {path!r}.")
        data = path
    with _open_h5(data, source) as f:
        _load_h5(model, f, source, load_optimizer=True, skip_mismatch=skip_mismatch)
