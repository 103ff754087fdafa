"""A trained model file: stable-baselines3's PPO zip plus ``tradetape.json`` inside it.

The metadata records what the model's inputs and outputs mean (feature-spec version and
names, the action spec, the env config with its decision clock), how it was trained, and the
SHA-256 of the network's parameters (``policy.pth`` in the zip). Loading refuses a file whose
feature spec differs from this engine's or whose parameters do not match their hash, with
one line that says which.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from events.errors import BadInput
from projections.observation import FEATURES, SPEC_VERSION

from .env import EnvConfig

META = "tradetape.json"
PARAMS = "policy.pth"


class ModelMeta(msgspec.Struct, frozen=True, kw_only=True):
    format: str = "tradetape-model/1"
    feature_spec: int
    features: tuple[str, ...]
    actions: tuple[str, ...]
    env: EnvConfig
    algo: str = "PPO"  # "MaskablePPO" (sb3-contrib: never samples a masked action) or "PPO"
    sessions: tuple[str, ...] = ()
    steps: int = 0
    seed: int = 0
    engine_version: str = ""
    torch_version: str = ""
    device: str = ""
    train_seconds: float = 0.0
    params_sha256: str = ""


def save_model(model: Any, path: Path, meta: ModelMeta) -> ModelMeta:
    """Write the model to ``path`` (a .zip) with its metadata; returns the metadata as written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    model.save(tmp)
    saved = tmp if tmp.exists() else tmp.with_name(tmp.name + ".zip")  # SB3 may add ".zip"
    with zipfile.ZipFile(saved) as z:
        digest = hashlib.sha256(z.read(PARAMS)).hexdigest()
    meta = msgspec.structs.replace(meta, params_sha256=digest)
    with zipfile.ZipFile(saved, "a") as z:
        z.writestr(META, msgspec.json.format(msgspec.json.encode(meta)))
    saved.replace(path)  # the file appears complete or not at all
    return meta


def read_meta(path: Path) -> ModelMeta:
    try:
        with zipfile.ZipFile(path) as z:
            meta = msgspec.json.decode(z.read(META), type=ModelMeta)
            digest = hashlib.sha256(z.read(PARAMS)).hexdigest()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such model file") from None
    except KeyError as exc:
        raise BadInput(f"{path}: not a tradetape model (no {exc.args[0]} inside)") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"{path}: not a readable model file: {exc}") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadInput(f"{path}: bad {META}: {exc}") from None
    if meta.feature_spec != SPEC_VERSION or tuple(meta.features) != FEATURES:
        raise BadInput(f"{path}: trained on feature spec v{meta.feature_spec}, this engine computes v{SPEC_VERSION}")
    if digest != meta.params_sha256:
        raise BadInput(f"{path}: the parameters do not match their recorded hash (file altered or damaged)")
    return meta


ALGOS = ("MaskablePPO", "PPO")


def load_model(path: Path) -> tuple[Any, ModelMeta]:
    meta = read_meta(path)
    if meta.algo == "MaskablePPO":
        from sb3_contrib import MaskablePPO

        return MaskablePPO.load(path, device="cpu"), meta
    if meta.algo == "PPO":
        from stable_baselines3 import PPO

        return PPO.load(path, device="cpu"), meta
    raise BadInput(f"{path}: trained with {meta.algo!r}, this engine loads {' or '.join(ALGOS)}")


def masked_predictor(model: Any, meta: ModelMeta) -> Callable[[np.ndarray, np.ndarray], int]:
    """The model's deterministic action under the mask. MaskablePPO takes the mask itself; a
    plain PPO model (trained without one) gets the most probable allowed action: either way
    an action the mask forbids is never chosen."""
    if meta.algo == "MaskablePPO":
        def act(obs: np.ndarray, mask: np.ndarray) -> int:
            a, _ = model.predict(obs, deterministic=True, action_masks=mask)
            return int(a)

        return act

    import torch

    def act_plain(obs: np.ndarray, mask: np.ndarray) -> int:
        with torch.no_grad():
            t, _ = model.policy.obs_to_tensor(obs)
            probs = model.policy.get_distribution(t).distribution.probs[0].cpu().numpy()
        return int(np.argmax(np.where(mask, probs, -1.0)))

    return act_plain
